import Logging
import TernNet

/// Counts `connectionDidClose` calls per connection id.
final class CloseCounter: Sendable {
    private let counts = Locked<[UInt64: Int]>([:])

    func record(_ connection: ServerConnection) {
        counts.withLock { $0[connection.id, default: 0] += 1 }
    }

    var perConnection: [UInt64: Int] { counts.value }
    var total: Int { counts.value.values.reduce(0, +) }
}

/// Answers every frame at once with the same payload.
final class EchoHandler: ServerConnectionHandler {
    let received = Locked(0)
    let closes = CloseCounter()
    let lastConnection = Locked<ServerConnection?>(nil)

    func connection(_ connection: ServerConnection, didReceiveFrame frame: UnsafeRawBufferPointer, ticket: ResponseTicket) {
        received.withLock { $0 += 1 }
        lastConnection.withLock { $0 = connection }
        connection.respond(ticket, framed([UInt8](frame)))
    }

    func connectionDidClose(_ connection: ServerConnection) {
        closes.record(connection)
    }
}

/// Keeps every request's ticket for the test to answer later, from any thread.
final class HoldingHandler: ServerConnectionHandler {
    struct Request: Sendable {
        var connection: ServerConnection
        var ticket: ResponseTicket
        var payload: [UInt8]

        /// Echoes the payload.
        func answer() { connection.respond(ticket, framed(payload)) }
    }

    let requests = Locked<[Request]>([])
    let closes = CloseCounter()

    var count: Int { requests.value.count }

    /// Removes and returns the requests held so far.
    func take() -> [Request] {
        requests.withLock { requests in
            defer { requests.removeAll() }
            return requests
        }
    }

    func connection(_ connection: ServerConnection, didReceiveFrame frame: UnsafeRawBufferPointer, ticket: ResponseTicket) {
        let request = Request(connection: connection, ticket: ticket, payload: [UInt8](frame))
        requests.withLock { $0.append(request) }
    }

    func connectionDidClose(_ connection: ServerConnection) {
        closes.record(connection)
    }
}

/// A ClientConnection that collects responses.
final class TestClient: Sendable {
    let connection: ClientConnection
    let frames = Locked<[[UInt8]]>([])
    let closeResult = Locked<CloseResult?>(nil)

    enum CloseResult: Sendable {
        case orderly
        case error(NetError.Code)
    }

    init(port: Int, host: String = "127.0.0.1", maxFrameBytes: Int = 64 * 1024 * 1024) throws {
        let frames = self.frames
        let closeResult = self.closeResult
        connection = try ClientConnection.connect(
            host: host, port: port, timeout: .seconds(5), maxFrameBytes: maxFrameBytes,
            onFrame: { payload in
                let bytes = [UInt8](payload)
                frames.withLock { $0.append(bytes) }
            },
            onClose: { error in
                let result: CloseResult = (error as? NetError).map { .error($0.code) } ?? .orderly
                closeResult.withLock { previous in
                    precondition(previous == nil, "onClose called twice")
                    previous = result
                }
            })
    }

    var count: Int { frames.value.count }

    /// Waits for `count` responses and returns them.
    func waitForFrames(_ count: Int, timeout: Duration = .seconds(10)) -> [[UInt8]]? {
        waitUntil(timeout: timeout) { self.count >= count } ? frames.value : nil
    }
}

extension TestClient.CloseResult: Equatable {}

/// Creates and starts a server on 127.0.0.1 with an ephemeral port.
func startServer(
    handler: any ServerConnectionHandler,
    logger: Logger = Logger(label: "tern.net.test", factory: { _ in SwiftLogNoOpLogHandler() }),
    configure: (inout ServerConfiguration) -> Void = { _ in }
) throws -> Server {
    var configuration = ServerConfiguration(host: "127.0.0.1", port: 0)
    configuration.eventLoopCount = 2
    configure(&configuration)
    let server = Server(configuration: configuration, handler: handler, logger: logger)
    try server.start()
    return server
}
