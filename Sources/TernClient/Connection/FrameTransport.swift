import TernNet

/// What a ``BrokerConnection`` needs from a network connection: send whole frames, close.
/// Responses arrive through the `onFrame` callback given when the transport was opened.
protocol FrameTransport: Sendable {
    /// Sends one complete frame (size prefix included).
    func send(_ bytes: [UInt8])
    /// Sends the concatenation of `chunks` (one or more complete frames) with one `writev`.
    func send(_ chunks: [[UInt8]])
    /// Closes the connection; `onClose` runs once afterwards.
    func close()
    /// True once the connection is closed.
    var isClosed: Bool { get }
}

/// Opens transports. The real one is TernNet's `ClientConnection`; tests substitute an in-memory
/// broker.
struct TransportFactory: Sendable {
    /// Connects (blocking the calling thread up to `timeout`).
    typealias Connect = @Sendable (
        _ address: BrokerAddress, _ timeout: Duration, _ maxFrameBytes: Int,
        _ onFrame: @escaping @Sendable (UnsafeRawBufferPointer) -> Void,
        _ onClose: @escaping @Sendable ((any Error)?) -> Void
    ) throws -> any FrameTransport

    var connect: Connect

    /// TCP through TernNet.
    static let ternNet = ternNet(tls: nil)

    /// TCP through TernNet, with TLS when `tls` is set.
    static func ternNet(tls: TLSContext?) -> TransportFactory {
        TransportFactory { address, timeout, maxFrameBytes, onFrame, onClose in
            try ClientConnection.connect(
                host: address.host, port: address.port, timeout: timeout, maxFrameBytes: maxFrameBytes, tls: tls,
                onFrame: onFrame, onClose: onClose)
        }
    }
}

extension ClientConnection: FrameTransport {}

/// Describes a transport error for a message: TernNet's own text where there is one.
func describeNetworkError(_ error: any Error) -> String {
    if let net = error as? NetError { return net.message }
    if let tern = error as? TernError { return tern.message }
    return "\(error)"
}
