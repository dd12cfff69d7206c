import Foundation
import TernWire

#if canImport(Glibc)
import Glibc
#endif

/// A blocking TCP socket connected to 127.0.0.1:`port`; the caller owns (and closes) it.
public func connectedLoopbackSocket(port: Int) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw BrokerProcessError("socket() failed") }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard connected == 0 else {
        let error = errno
        close(fd)
        throw BrokerProcessError("connect to \(port) failed: errno \(error)")
    }
    return fd
}

/// A blocking TCP connection for tests that speak raw bytes to a broker (malformed frames,
/// truncated headers) and read raw response frames back, with a receive timeout.
public final class RawConnection {
    private let fd: Int32

    /// Connects to 127.0.0.1:`port`; reads time out after `timeout` seconds.
    public init(port: Int, timeout: TimeInterval = 10) throws {
        fd = try connectedLoopbackSocket(port: port)
        var tv = timeval(tv_sec: Int(timeout), tv_usec: .init((timeout - floor(timeout)) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    /// Writes all of `bytes`.
    public func write(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw BrokerProcessError("send failed: errno \(errno)") }
            sent += n
        }
    }

    /// Reads exactly `count` bytes; nil on end of stream, error or timeout.
    public func read(count: Int) -> [UInt8]? { Self.read(fd, count: count) }

    /// Reads exactly `count` bytes from socket `fd`; nil on end of stream, error or timeout.
    public static func read(_ fd: Int32, count: Int) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = buffer[got...].withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { return nil }
            got += n
        }
        return buffer
    }

    /// Reads one response frame's payload (after the size prefix); nil when the peer closed.
    public func readFrame() -> [UInt8]? {
        guard let prefix = read(count: 4) else { return nil }
        let size = Int(UInt32(prefix[0]) << 24 | UInt32(prefix[1]) << 16 | UInt32(prefix[2]) << 8 | UInt32(prefix[3]))
        return read(count: size)
    }

    /// True when bytes (or end of stream) are waiting to be read now, without waiting.
    public func isReadable() -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 0) == 1
    }

    /// Closes the sending side (the peer reads end of input) while still reading.
    public func shutdownWrite() {
        shutdown(fd, Int32(SHUT_WR))
    }

    /// Reads and drops whatever arrives until the peer closes the connection: true when it did
    /// before a read timed out.
    public func waitForClose() -> Bool {
        var scratch = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return true }
            if n < 0 { return errno == ECONNRESET }
        }
    }

    /// True when the peer has closed the connection (a read returns end of stream or reset).
    public func isClosedByPeer() -> Bool {
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, 0)
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    }
}

extension RawConnection {
    /// Sends one request and decodes its response: the top-level status and, when it is NONE, the body.
    public func roundTrip<R: WireRequest>(_ request: R, correlationId: UInt32 = 1) throws -> (
        status: ResponseStatus, response: R.Response?
    ) {
        try write(Frame.request(request, correlationId: correlationId, clientId: "raw-test"))
        guard let payload = readFrame() else { throw BrokerProcessError("connection closed before a response") }
        var reader = ByteReader(payload)
        let head = try Frame.readResponseHead(&reader)
        guard head.correlationId == correlationId else {
            throw BrokerProcessError("correlation id \(head.correlationId), expected \(correlationId)")
        }
        guard head.status.errorCode == .none else { return (head.status, nil) }
        return (head.status, try R.Response(from: &reader, version: request.version))
    }
}
