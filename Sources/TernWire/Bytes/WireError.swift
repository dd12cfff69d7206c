/// A decoding failure: the bytes are not a valid instance of what was being read.
///
/// Every decoder in `TernWire` reports malformed or truncated input with this error rather than
/// trapping, so that bytes from the network or a disk can never crash the process.
public struct WireError: Error, Hashable, CustomStringConvertible, Sendable {
    /// The kind of failure. New codes may be added; match with `==`, not exhaustively.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let raw: String
        private init(_ raw: String) { self.raw = raw }

        /// The input ended before the field was complete.
        public static let truncated = Code("truncated")
        /// A length, count or value is outside what the format allows.
        public static let malformed = Code("malformed")
        /// The checksum stored in the data does not match its contents.
        public static let checksumMismatch = Code("checksum mismatch")
        /// The format version (record batch magic, API version) is not one this code reads.
        public static let unsupportedVersion = Code("unsupported version")
        /// The data uses a compression codec this build cannot decode.
        public static let unsupportedCompression = Code("unsupported compression")

        public var description: String { raw }
    }

    /// What kind of failure this is.
    public var code: Code
    /// A human-readable account of what was wrong and where.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }

    static func truncated(_ what: String, need: Int, have: Int) -> WireError {
        WireError(.truncated, "\(what): need \(need) bytes, \(have) left")
    }
}
