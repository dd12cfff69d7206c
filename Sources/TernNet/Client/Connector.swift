import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Opens a TCP connection without blocking past a deadline: a non-blocking `connect` and a
/// `poll` for writability, trying each resolved address in turn.
enum Connector {
    /// Connects to the first address of `host` that accepts.
    /// - Returns: the connected socket (non-blocking, close-on-exec, `TCP_NODELAY`) and its peer.
    /// - Throws: `NetError`: `timedOut` when the deadline passes, otherwise the last address's
    ///   error (`connectionRefused`, `hostNotFound`, …), naming `host:port`.
    static func connect(host: String, port: Int, timeout: Duration) throws(NetError) -> (SocketDescriptor, SocketAddress) {
        let addresses = try SocketAddress.resolve(host: host, port: port, passive: false)
        let deadline = DispatchTime.now().uptimeNanoseconds &+ UInt64(timeout.clampedNanoseconds)
        var lastError = NetError(.hostNotFound, "no address for \(host):\(port)")
        for address in addresses {
            do throws(NetError) {
                return (try connect(to: address, deadline: deadline, host: host, timeout: timeout), address)
            } catch {
                lastError = error
                if error.code == .timedOut { break }
            }
        }
        throw lastError
    }

    private static func connect(
        to address: SocketAddress, deadline: UInt64, host: String, timeout: Duration
    ) throws(NetError) -> SocketDescriptor {
        let socket = SocketDescriptor(try Syscall.socket(family: address.family))
        do throws(NetError) {
            try Syscall.setNoDelay(socket.rawValue)
            switch Syscall.connect(socket.rawValue, to: address) {
            case .processed:
                return socket
            case .failed(let error):
                throw NetError(error.code, "connect to \(host) (\(address)): \(reason(error))", systemError: error.systemError)
            case .wouldBlock:
                break
            }
            while true {
                let now = DispatchTime.now().uptimeNanoseconds
                guard now < deadline else {
                    throw NetError(.timedOut, "connect to \(host) (\(address)) timed out after \(timeout)")
                }
                let remaining = Duration.nanoseconds(Int64(clamping: deadline - now))
                let events = try Syscall.poll(
                    socket.rawValue, events: Int16(POLLOUT), timeoutMilliseconds: remaining.clampedMilliseconds)
                if events != 0 { break }
            }
            let pending = try Syscall.pendingError(socket.rawValue)
            if pending != 0 {
                let error = NetError.system(pending, "connect to \(host) (\(address))")
                throw error
            }
            return socket
        } catch {
            socket.close()
            throw error
        }
    }

    private static func reason(_ error: NetError) -> String {
        error.systemError.map(NetError.errorText) ?? error.message
    }
}
