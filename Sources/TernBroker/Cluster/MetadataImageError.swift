/// A committed metadata record that contradicts the image it would be applied to.
///
/// Applying it is refused and the image stays as it was; in a healthy cluster this never happens
/// (the controller only proposes records its own image accepts), so one seen in the field means a
/// bug or a corrupted log, and the message names the record's subject.
public struct MetadataImageError: Error, Hashable, CustomStringConvertible, Sendable {
    /// Kinds of contradiction. New codes may be added; match with `==`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let raw: String
        private init(_ raw: String) { self.raw = raw }

        /// A second, different cluster id.
        public static let clusterIdMismatch = Code("cluster id mismatch")
        /// The record names a broker, topic or partition the image does not have.
        public static let unknownEntity = Code("unknown entity")
        /// The record creates something that already exists (topic name or id, partition).
        public static let duplicate = Code("duplicate")
        /// An epoch in the record is not the one that must follow the image's.
        public static let staleEpoch = Code("stale epoch")
        /// The record's own fields are inconsistent (leader outside the ISR, ISR outside replicas…).
        public static let invalid = Code("invalid")

        public var description: String { raw }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
