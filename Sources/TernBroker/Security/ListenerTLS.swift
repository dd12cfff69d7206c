import Dispatch
import Logging
import Synchronization
import TernNet

#if canImport(Glibc)
import Glibc
#endif

/// The TLS context of the broker's SSL listeners, and its reloading: on ``reload(reason:)``
/// (ternd calls it on SIGHUP) and when a certificate, key or CA file changes (checked every
/// `ssl.reload.check.interval.ms`), a new context is built from the files; new connections get
/// it, open connections keep the one they started with. A reload that fails (a half-written
/// file, a wrong password) is logged and the current certificates stay in use.
///
/// The SSL controller listener (`listener.security.protocol.map`, CONTROLLER:SSL) has a context
/// of its own, which requires client certificates; it is reloaded with the other.
public final class ListenerTLS: Sendable {
    /// What the SSL client listeners hand new connections (when only the controller listener
    /// uses TLS, its context: then no client listener takes it).
    public let holder: TLSContextHolder
    /// What the SSL controller listener hands new connections; nil when it is plaintext.
    public let controllerHolder: TLSContextHolder?
    private let configuration: TLSConfiguration
    private let controllerConfiguration: TLSConfiguration?
    private let logger: Logger
    private let stamps: Mutex<[FileStamp?]>
    private let watcher = Mutex<TimerBox?>(nil)
    private let queue = DispatchQueue(label: "tern.tls.reload")

    /// Identifies a file's contents cheaply: a change of any field means a new file.
    struct FileStamp: Equatable {
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var modifiedSeconds: Int
        var modifiedNanoseconds: Int

        init?(path: String) {
            var info = stat()
            guard stat(path, &info) == 0 else { return nil }
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
            size = Int64(info.st_size)
            modifiedSeconds = info.st_mtim.tv_sec
            modifiedNanoseconds = info.st_mtim.tv_nsec
        }
    }

    /// Builds the context of the SSL listeners; nil when no listener uses TLS.
    /// - Throws: ``ConfigError`` naming the key and file (missing, unreadable, not PEM, wrong
    ///   password, key not matching the certificate).
    public static func load(config: BrokerConfig, logger: Logger) throws(ConfigError) -> ListenerTLS? {
        let controller = try config.controllerListenerTLSConfiguration()
        guard let configuration = try config.listenerTLSConfiguration() ?? controller else { return nil }
        do {
            let context = try TLSContext(configuration, role: .server)
            let controllerContext = try controller.map { configuration throws(NetError) in
                try TLSContext(configuration, role: .server)
            }
            return ListenerTLS(
                context: context, configuration: configuration, controllerContext: controllerContext,
                controllerConfiguration: controller, logger: logger)
        } catch {
            throw ConfigError(origin: "TLS", reason: error.message)
        }
    }

    private init(
        context: TLSContext, configuration: TLSConfiguration, controllerContext: TLSContext?,
        controllerConfiguration: TLSConfiguration?, logger: Logger
    ) {
        self.holder = TLSContextHolder(context)
        self.configuration = configuration
        self.controllerHolder = controllerContext.map(TLSContextHolder.init)
        self.controllerConfiguration = controllerConfiguration
        self.logger = logger
        self.stamps = Mutex(Self.files(configuration, controllerConfiguration).map(FileStamp.init(path:)))
    }

    /// Every file either context reads, once each, in a stable order.
    private static func files(_ configuration: TLSConfiguration, _ controller: TLSConfiguration?) -> [String] {
        var files = configuration.files
        for file in controller?.files ?? [] where !files.contains(file) { files.append(file) }
        return files
    }

    /// Rebuilds the context from the files and swaps it in.
    /// - Returns: false when the files cannot be used (logged; the current context stays).
    @discardableResult
    public func reload(reason: String) -> Bool {
        let seen = Self.files(configuration, controllerConfiguration).map(FileStamp.init(path:))
        do {
            let context = try TLSContext(configuration, role: .server)
            // Both or neither: the controller listener never runs on other files than the clients'.
            if let controllerHolder, let controllerConfiguration {
                controllerHolder.replace(with: try TLSContext(controllerConfiguration, role: .server))
            }
            holder.replace(with: context)
            stamps.withLock { $0 = seen }
            logger.info(
                "reloaded TLS certificates; new connections use them",
                metadata: [
                    "tern_reason": "\(reason)", "tern_certificate": "\(configuration.certificateChainPath ?? "")",
                ])
            return true
        } catch {
            // Remember the failed files: the watcher retries only once they change again.
            stamps.withLock { $0 = seen }
            logger.error(
                "cannot reload TLS certificates; keeping the current ones",
                metadata: ["tern_reason": "\(reason)", "error": "\(error.message)"])
            return false
        }
    }

    /// Checks the files every `intervalMs` and reloads when one changed; 0 never checks.
    public func startWatching(intervalMs: Int64) {
        guard intervalMs > 0 else { return }
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now() + .milliseconds(Int(intervalMs)), repeating: .milliseconds(Int(intervalMs)))
        timer.setEventHandler { [weak self] in self?.checkFiles() }
        watcher.withLock { $0 = TimerBox(timer) }
        timer.resume()
    }

    /// Stops checking the files.
    public func stopWatching() {
        watcher.withLock { box in
            box?.timer.cancel()
            box = nil
        }
    }

    /// A Dispatch timer is safe to cancel from any thread; `@unchecked Sendable` only says so.
    private final class TimerBox: @unchecked Sendable {
        let timer: any DispatchSourceTimer
        init(_ timer: any DispatchSourceTimer) { self.timer = timer }
    }

    private func checkFiles() {
        let current = Self.files(configuration, controllerConfiguration).map(FileStamp.init(path:))
        let changed = stamps.withLock { $0 != current }
        if changed { reload(reason: "a certificate, key or CA file changed") }
    }
}
