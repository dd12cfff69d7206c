#if canImport(Glibc)
import Glibc
#endif

/// The sd_notify protocol, spoken directly: one datagram per message to the Unix socket named by
/// `$NOTIFY_SOCKET` (a path, or an abstract name when it starts with `@`). Without that variable
/// (not started by systemd with `Type=notify`) every call is a no-op.
struct SystemdNotifier: Sendable {
    private let address: [UInt8]?

    init(environment: [String: String]) {
        guard let socketName = environment["NOTIFY_SOCKET"], !socketName.isEmpty,
            socketName.utf8.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path)
        else {
            address = nil
            return
        }
        var bytes = Array(socketName.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }  // abstract namespace
        address = bytes
    }

    /// True when systemd asked for notifications.
    var isEnabled: Bool { address != nil }

    /// Sends `READY=1`, `STATUS=…`, `STOPPING=1`, `WATCHDOG=1` or several, newline-separated.
    /// Failures are ignored: notification must never stop the broker.
    func notify(_ state: String) {
        guard let address else { return }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var target = sockaddr_un()
        target.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &target.sun_path) { path in
            for (i, byte) in address.enumerated() where i < path.count { path[i] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + address.count)
        var message = Array(state.utf8)
        _ = message.withUnsafeMutableBytes { buffer in
            withUnsafePointer(to: &target) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL), $0, length)
                }
            }
        }
    }

    /// The watchdog interval systemd asked for (`$WATCHDOG_USEC`, for this process when
    /// `$WATCHDOG_PID` is set), or nil.
    static func watchdogInterval(environment: [String: String]) -> Duration? {
        guard let text = environment["WATCHDOG_USEC"], let usec = Int64(text), usec > 0 else { return nil }
        if let pid = environment["WATCHDOG_PID"], Int32(pid) != getpid() { return nil }
        return .microseconds(usec)
    }
}
