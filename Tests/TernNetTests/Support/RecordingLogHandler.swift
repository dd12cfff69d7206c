import Logging
import Synchronization

/// Keeps every log record so that tests can check what was logged and with which metadata.
struct RecordingLogHandler: LogHandler {
    struct Record: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: Logger.Metadata
    }

    final class Store: Sendable {
        let records = Mutex<[Record]>([])
        var all: [Record] { records.withLock { $0 } }
    }

    let store: Store
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        event.metadata?.forEach { merged[$0.key] = $0.value }
        let record = Record(level: event.level, message: "\(event.message)", metadata: merged)
        store.records.withLock { $0.append(record) }
    }

    static func logger() -> (Logger, Store) {
        let store = Store()
        return (Logger(label: "tern.net.test", factory: { _ in RecordingLogHandler(store: store) }), store)
    }
}
