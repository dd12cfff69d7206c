#if canImport(Glibc)
import Glibc
#endif

/// An error from TernNet: what failed, on which address or peer, and why.
///
/// Codes are static constants rather than enum cases so that a new code is not a breaking change.
public struct NetError: Error, CustomStringConvertible, Sendable {
    /// The kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String

        private init(_ name: String) { self.name = name }

        /// A textual name of the code, e.g. `addressInUse`.
        public var description: String { name }

        /// The listen address is already bound by another socket (`EADDRINUSE`).
        public static let addressInUse = Code("addressInUse")
        /// Nothing listens at the address connected to (`ECONNREFUSED`).
        public static let connectionRefused = Code("connectionRefused")
        /// The peer reset the connection or it broke (`ECONNRESET`, `EPIPE`).
        public static let connectionReset = Code("connectionReset")
        /// A connect did not finish in time, or a connection was idle for too long.
        public static let timedOut = Code("timedOut")
        /// A host name could not be resolved.
        public static let hostNotFound = Code("hostNotFound")
        /// A frame's size prefix exceeds the configured maximum.
        public static let frameTooLarge = Code("frameTooLarge")
        /// The connection is closed (by the peer or locally).
        public static let closed = Code("closed")
        /// An argument such as a port number is out of range.
        public static let invalidArgument = Code("invalidArgument")
        /// A TLS certificate, key or setting cannot be used (names the file or key).
        public static let tlsConfiguration = Code("tlsConfiguration")
        /// The TLS handshake failed (an unknown CA, an expired certificate, a wrong host name, a
        /// missing client certificate, no common protocol or cipher).
        public static let tlsHandshakeFailed = Code("tlsHandshakeFailed")
        /// The peer speaks plaintext where TLS was expected, or TLS where plaintext was.
        public static let tlsNotSpoken = Code("tlsNotSpoken")
        /// The broker expects TLS and the client connected in plaintext.
        public static let tlsRequired = Code("tlsRequired")
        /// A TLS error after the handshake (a bad record, an alert from the peer).
        public static let tlsError = Code("tlsError")
        /// Any other failure of a system call.
        public static let ioError = Code("ioError")
    }

    /// What kind of failure this is.
    public var code: Code
    /// What failed, on what, and why, e.g. `cannot listen on 127.0.0.1:9092: Address already in use`.
    public var message: String
    /// The `errno` value behind the failure, when a system call failed.
    public var systemError: Int32?

    /// Creates an error.
    public init(_ code: Code, _ message: String, systemError: Int32? = nil) {
        self.code = code
        self.message = message
        self.systemError = systemError
    }

    /// `"<code>: <message>"`.
    public var description: String { "\(code): \(message)" }

    /// An error for a failed system call: the code follows from `errno`, the message names the
    /// operation (with its address or peer when known) and carries the `strerror` text.
    static func system(_ errorNumber: Int32, _ operation: String) -> NetError {
        NetError(code(for: errorNumber), "\(operation): \(errorText(errorNumber))", systemError: errorNumber)
    }

    /// The `strerror` text of an `errno` value.
    static func errorText(_ errorNumber: Int32) -> String {
        guard let text = strerror(errorNumber) else { return "errno \(errorNumber)" }
        return String(cString: text)
    }

    private static func code(for errorNumber: Int32) -> Code {
        switch errorNumber {
        case EADDRINUSE: return .addressInUse
        case ECONNREFUSED: return .connectionRefused
        case ECONNRESET, EPIPE, ECONNABORTED: return .connectionReset
        case ETIMEDOUT: return .timedOut
        default: return .ioError
        }
    }
}
