import TernWire

/// Why the controller refused a request: the Kafka error code a response would carry and a
/// message naming the broker or topic and the reason (`STALE_BROKER_EPOCH` and
/// `BROKER_ID_NOT_REGISTERED` for requests from brokers with no current registration).
public struct ControllerError: Error, Hashable, CustomStringConvertible, Sendable {
    public var code: ErrorCode
    public var message: String

    public init(_ code: ErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.name): \(message)" }
}
