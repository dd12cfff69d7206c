#if canImport(Glibc)
import Glibc
#endif

/// The socket system calls TernNet makes, in one place.
///
/// Every call retries `EINTR`, reads `errno` immediately after the call (before anything else can
/// overwrite it) and turns it into a ``NetError`` carrying the `strerror` text. Set-up calls throw;
/// I/O calls on non-blocking descriptors return an ``IOResult`` so that `EAGAIN` is not an error.
enum Syscall {
    // MARK: I/O on non-blocking descriptors

    /// `read(2)` into `buffer`; `.processed(0)` is end of input.
    static func read(_ fd: Int32, into buffer: UnsafeMutableRawPointer, count: Int) -> IOResult<Int> {
        retryingIO("read") { Glibc.read(fd, buffer, count) }
    }

    /// `writev(2)` of `count` vectors.
    static func writev(_ fd: Int32, _ vectors: UnsafePointer<iovec>, count: Int) -> IOResult<Int> {
        retryingIO("writev") { Glibc.writev(fd, vectors, Int32(count)) }
    }

    /// `write(2)` of `count` bytes.
    static func write(_ fd: Int32, _ buffer: UnsafeRawPointer, count: Int) -> IOResult<Int> {
        retryingIO("write") { Glibc.write(fd, buffer, count) }
    }

    /// `pread(2)` from a file at `offset`; `.processed(0)` is the end of the file.
    static func pread(_ fd: Int32, into buffer: UnsafeMutableRawPointer, count: Int, offset: Int64) -> IOResult<Int> {
        retryingIO("pread") { Glibc.pread(fd, buffer, count, off_t(offset)) }
    }

    /// `sendfile(2)` from a file to a socket; `offset` advances by the bytes sent.
    static func sendfile(to socket: Int32, from file: Int32, offset: inout Int64, count: Int) -> IOResult<Int> {
        var position = off_t(offset)
        let result = retryingIO("sendfile") { Glibc.sendfile(socket, file, &position, count) }
        offset = Int64(position)
        return result
    }

    /// `accept(2)` of one pending connection. Glibc does not export `accept4`, so the caller
    /// makes the new descriptor non-blocking and close-on-exec (``prepareAccepted(_:)``).
    static func accept(_ fd: Int32) -> IOResult<(Int32, SocketAddress)> {
        var address = SocketAddress()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = retryingIO("accept") {
            withUnsafeMutablePointer(to: &address.storage) { storage in
                storage.withMemoryRebound(to: sockaddr.self, capacity: 1) { Int(Glibc.accept(fd, $0, &length)) }
            }
        }
        switch result {
        case .processed(let descriptor):
            address.length = length
            return .processed((Int32(descriptor), address))
        case .wouldBlock: return .wouldBlock
        case .failed(let error): return .failed(error)
        }
    }

    @inline(__always)
    private static func retryingIO(_ operation: StaticString, _ call: () -> Int) -> IOResult<Int> {
        while true {
            let result = call()
            if result >= 0 { return .processed(result) }
            let errorNumber = errno
            switch errorNumber {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            default: return .failed(.system(errorNumber, "\(operation)"))
            }
        }
    }

    // MARK: Set-up calls

    /// A non-blocking, close-on-exec stream socket of `family`.
    static func socket(family: Int32) throws(NetError) -> Int32 {
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        return Int32(try retrying("socket") { Int(Glibc.socket(family, type, 0)) })
    }

    /// Sets an integer socket option.
    static func setOption(_ fd: Int32, level: Int32, name: Int32, value: Int32, _ operation: String) throws(NetError) {
        var value = value
        _ = try retrying(operation) {
            Int(Glibc.setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size)))
        }
    }

    /// Disables Nagle's algorithm: requests and responses are small and latency-bound.
    static func setNoDelay(_ fd: Int32) throws(NetError) {
        try setOption(fd, level: Int32(IPPROTO_TCP), name: TCP_NODELAY, value: 1, "setsockopt(TCP_NODELAY)")
    }

    /// Makes an accepted descriptor non-blocking and close-on-exec and sets `TCP_NODELAY`.
    static func prepareAccepted(_ fd: Int32) throws(NetError) {
        let flags = try retrying("fcntl(F_GETFL)") { Int(fcntl(fd, F_GETFL)) }
        _ = try retrying("fcntl(F_SETFL)") { Int(fcntl(fd, F_SETFL, Int32(flags) | O_NONBLOCK)) }
        _ = try retrying("fcntl(F_SETFD)") { Int(fcntl(fd, F_SETFD, FD_CLOEXEC)) }
        try setNoDelay(fd)
    }

    /// `bind(2)`; the error message names the address.
    static func bind(_ fd: Int32, to address: SocketAddress) throws(NetError) {
        _ = try retrying("cannot bind \(address)") {
            address.withSockAddr { Int(Glibc.bind(fd, $0, $1)) }
        }
    }

    /// `listen(2)`.
    static func listen(_ fd: Int32, backlog: Int32, address: SocketAddress) throws(NetError) {
        _ = try retrying("cannot listen on \(address)") { Int(Glibc.listen(fd, backlog)) }
    }

    /// Starts a non-blocking `connect(2)`: `.processed` when connected at once, `.wouldBlock` while
    /// in progress (`EINPROGRESS`).
    static func connect(_ fd: Int32, to address: SocketAddress) -> IOResult<Void> {
        while true {
            let result = address.withSockAddr { Glibc.connect(fd, $0, $1) }
            if result == 0 { return .processed(()) }
            let errorNumber = errno
            switch errorNumber {
            case EINTR: continue
            case EINPROGRESS: return .wouldBlock
            default: return .failed(.system(errorNumber, "connect to \(address)"))
            }
        }
    }

    /// The pending error of a socket (`SO_ERROR`), `0` when none.
    static func pendingError(_ fd: Int32) throws(NetError) -> Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        _ = try retrying("getsockopt(SO_ERROR)") { Int(getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &length)) }
        return value
    }

    /// Waits until `fd` has one of `events` or `timeoutMilliseconds` pass; returns the events seen
    /// (`0` on timeout). A signal restarts the wait with the same timeout, which only lengthens it.
    static func poll(_ fd: Int32, events: Int16, timeoutMilliseconds: Int32) throws(NetError) -> Int16 {
        var descriptor = pollfd(fd: fd, events: events, revents: 0)
        let ready = try retrying("poll") { Int(Glibc.poll(&descriptor, 1, timeoutMilliseconds)) }
        return ready == 0 ? 0 : descriptor.revents
    }

    /// `POLLRDHUP` (Linux): the peer shut down its sending side. Glibc declares it only under
    /// `_GNU_SOURCE`, so Swift does not import it.
    static let pollReadHangUp: Int16 = 0x2000

    /// What a socket's peer has done, seen without reading and without waiting: whether it shut
    /// down its sending side (end of input is queued behind any unread bytes) and whether the
    /// connection failed or hung up entirely (`POLLERR`/`POLLHUP`, e.g. after a reset). Nil when
    /// `poll` itself fails.
    static func peerState(_ fd: Int32) -> (inputShutDown: Bool, failed: Bool)? {
        guard let events = try? poll(fd, events: pollReadHangUp, timeoutMilliseconds: 0) else { return nil }
        return (events & pollReadHangUp != 0, events & Int16(POLLERR | POLLHUP | POLLNVAL) != 0)
    }

    /// Bytes the socket holds unread (`FIONREAD`); nil when `ioctl` fails.
    static func unreadBytes(_ fd: Int32) -> Int? {
        var count: Int32 = 0
        let result = withUnsafeMutablePointer(to: &count) { ioctl(fd, UInt(FIONREAD), UnsafeMutableRawPointer($0)) }
        return result == 0 ? Int(count) : nil
    }

    /// The local address a socket is bound to.
    static func localAddress(_ fd: Int32) throws(NetError) -> SocketAddress {
        var address = SocketAddress()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = try retrying("getsockname") {
            withUnsafeMutablePointer(to: &address.storage) { storage in
                storage.withMemoryRebound(to: sockaddr.self, capacity: 1) { Int(getsockname(fd, $0, &length)) }
            }
        }
        address.length = length
        return address
    }

    /// Resolves `host` with `getaddrinfo` to stream-socket addresses, IPv4 and IPv6, in the
    /// resolver's order.
    /// - Parameter passive: resolve for `bind` (an empty host means every interface).
    /// - Throws: `NetError.Code.hostNotFound` when the name does not resolve,
    ///   `invalidArgument` for a port outside 0...65535.
    static func resolve(host: String, port: Int, passive: Bool) throws(NetError) -> [SocketAddress] {
        guard (0...65535).contains(port) else {
            throw NetError(.invalidArgument, "port \(port) of host '\(host)' is not in 0...65535")
        }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host.isEmpty ? nil : host, String(port), &hints, &list)
        let systemError = errno
        guard status == 0 else {
            let reason =
                status == EAI_SYSTEM
                ? NetError.errorText(systemError)
                : gai_strerror(status).map { String(cString: $0) } ?? "error \(status)"
            throw NetError(.hostNotFound, "cannot resolve host '\(host)': \(reason)")
        }
        defer { freeaddrinfo(list) }

        var addresses: [SocketAddress] = []
        var entry = list
        while let info = entry {
            defer { entry = info.pointee.ai_next }
            guard let source = info.pointee.ai_addr,
                info.pointee.ai_family == AF_INET || info.pointee.ai_family == AF_INET6,
                Int(info.pointee.ai_addrlen) <= MemoryLayout<sockaddr_storage>.size
            else { continue }
            var address = SocketAddress()
            address.length = info.pointee.ai_addrlen
            withUnsafeMutableBytes(of: &address.storage) { target in
                target.copyMemory(from: UnsafeRawBufferPointer(start: source, count: Int(info.pointee.ai_addrlen)))
            }
            addresses.append(address)
        }
        guard !addresses.isEmpty else {
            throw NetError(.hostNotFound, "host '\(host)' has no IPv4 or IPv6 address")
        }
        return addresses
    }

    /// `close(2)`. Not retried on `EINTR`: on Linux the descriptor is released either way, and a
    /// retry could close a descriptor another thread has just been given.
    static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    @inline(__always)
    private static func retrying(_ operation: @autoclosure () -> String, _ call: () -> Int) throws(NetError) -> Int {
        while true {
            let result = call()
            if result >= 0 { return result }
            let errorNumber = errno
            if errorNumber == EINTR { continue }
            throw .system(errorNumber, operation())
        }
    }
}
