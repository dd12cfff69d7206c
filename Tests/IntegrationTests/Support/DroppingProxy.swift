import Foundation
import Synchronization
import TernTestSupport
import TernWire

#if canImport(Glibc)
import Glibc
#endif

/// A loopback TCP proxy in front of a broker that loses the answer to the first Produce v1
/// request: when that response arrives from the broker, it closes the client's connection
/// instead of forwarding it (the broker has appended; the client never hears of it). Every other
/// frame is forwarded unchanged, both ways. Threads block on their sockets; `stop()` closes all.
final class DroppingProxy: Sendable {
    let port: Int
    private let brokerPort: Int
    private let listener: Int32
    private struct State {
        var sockets: [Int32] = []
        var dropCorrelationId: (connection: Int, id: UInt32)?
        var dropped = false
        var nextConnection = 0
    }
    private let state = Mutex(State())

    /// Whether the answer to a Produce v1 request was dropped.
    var dropped: Bool { state.withLock { $0.dropped } }

    /// Listens on 127.0.0.1:`port` and forwards to 127.0.0.1:`brokerPort`.
    init(brokerPort: Int, port: Int) throws {
        self.brokerPort = brokerPort
        self.port = port
        listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw BrokerProcessError("socket() failed") }
        var yes: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(listener, 16) == 0 else {
            close(listener)
            throw BrokerProcessError("cannot listen on \(port)")
        }
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    /// Closes the listener and every proxied connection (their threads then end).
    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        for fd in state.withLock({ $0.sockets }) { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            guard let upstream = try? connectedLoopbackSocket(port: brokerPort) else {
                close(client)
                continue
            }
            let connection = state.withLock { state -> Int in
                state.sockets += [client, upstream]
                state.nextConnection += 1
                return state.nextConnection
            }
            Thread { [self] in forward(from: client, to: upstream, connection: connection, requests: true) }.start()
            Thread { [self] in forward(from: upstream, to: client, connection: connection, requests: false) }.start()
        }
    }

    /// Copies whole frames from `source` to `destination` until either side closes.
    private func forward(from source: Int32, to destination: Int32, connection: Int, requests: Bool) {
        defer {
            shutdown(source, Int32(SHUT_RDWR))
            shutdown(destination, Int32(SHUT_RDWR))
        }
        while let frame = Self.readFrame(source) {
            if requests, frame.count >= 12 {
                // apiKey u16 | apiVersion u16 | correlationId u32 after the size prefix.
                let apiKey = UInt16(frame[4]) << 8 | UInt16(frame[5])
                let version = UInt16(frame[6]) << 8 | UInt16(frame[7])
                let id = UInt32(frame[8]) << 24 | UInt32(frame[9]) << 16 | UInt32(frame[10]) << 8 | UInt32(frame[11])
                if apiKey == ApiKey.produce.rawValue, version >= 1 {
                    state.withLock { state in
                        if !state.dropped, state.dropCorrelationId == nil {
                            state.dropCorrelationId = (connection, id)
                        }
                    }
                }
            } else if !requests, frame.count >= 8 {
                let id = UInt32(frame[4]) << 24 | UInt32(frame[5]) << 16 | UInt32(frame[6]) << 8 | UInt32(frame[7])
                let drop = state.withLock { state -> Bool in
                    guard !state.dropped, let target = state.dropCorrelationId, target.connection == connection,
                        target.id == id
                    else { return false }
                    state.dropped = true
                    return true
                }
                if drop { return }
            }
            guard Self.writeAll(destination, frame) else { return }
        }
    }

    private static func readFrame(_ fd: Int32) -> [UInt8]? {
        guard let prefix = readExactly(fd, 4) else { return nil }
        let size = Int(UInt32(prefix[0]) << 24 | UInt32(prefix[1]) << 16 | UInt32(prefix[2]) << 8 | UInt32(prefix[3]))
        guard size <= 256 << 20, let body = readExactly(fd, size) else { return nil }
        return prefix + body
    }

    private static func readExactly(_ fd: Int32, _ count: Int) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = buffer[got...].withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { return nil }
            got += n
        }
        return buffer
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { return false }
            sent += n
        }
        return true
    }
}
