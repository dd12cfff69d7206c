import TernWire

/// Why the controller refused a request: the Kafka error code a response would carry and a
/// message naming the broker or topic and the reason.
///
/// Stale broker epochs and unregistered brokers use `INVALID_REQUEST` until the broker
/// registration and heartbeat APIs (and their codes, `STALE_BROKER_EPOCH`,
/// `BROKER_ID_NOT_REGISTERED`) arrive with the wiring slice.
public struct ControllerError: Error, Hashable, CustomStringConvertible, Sendable {
    public var code: ErrorCode
    public var message: String

    public init(_ code: ErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.name): \(message)" }
}
