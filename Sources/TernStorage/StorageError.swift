/// A storage failure, naming what failed (file, topic, partition, offset) and why.
public struct StorageError: Error, CustomStringConvertible, Sendable {
    /// The kind of failure. New codes may be added; match with `==`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let raw: String
        private init(_ raw: String) { self.raw = raw }
        /// A read asked for an offset outside logStartOffset...logEndOffset.
        public static let offsetOutOfRange = Code("offset out of range")
        /// Data on disk is not what was written (bad CRC, torn batch, unreadable metadata).
        public static let corruptLog = Code("corrupt log")
        /// A system call failed.
        public static let ioError = Code("I/O error")
        /// A log directory cannot be created, written or read.
        public static let logDirUnavailable = Code("log directory unavailable")
        /// A batch is larger than the log accepts (`max.message.bytes`).
        public static let messageTooLarge = Code("message too large")
        /// Batches handed to the log are inconsistent (bad CRC, offsets going backwards, not
        /// matching the bytes).
        public static let invalidBatch = Code("invalid batch")
        /// The log or the log manager has been closed.
        public static let closed = Code("closed")
        /// A background task (the cleaner) was asked to stop before it finished.
        public static let cancelled = Code("cancelled")
        /// The log keeps no key index (`key.index.enable` is false for its topic).
        public static let keyIndexDisabled = Code("key index disabled")
        /// No such log.
        public static let notFound = Code("not found")
        /// An idempotent producer's batch does not continue its sequence (a gap, or a new epoch
        /// not starting at 0); nothing was appended.
        public static let outOfOrderSequence = Code("out of order sequence")
        /// An idempotent producer's batch carries an epoch older than the partition has seen for
        /// its producer id (the producer was fenced); nothing was appended.
        public static let invalidProducerEpoch = Code("invalid producer epoch")
        /// The partition has no state for the batch's producer id and the batch does not start
        /// at sequence 0; nothing was appended.
        public static let unknownProducerId = Code("unknown producer id")
        /// The log was truncated while a read was in progress (the read may be retried).
        public static let logTruncated = Code("log truncated")
        /// No descriptor to spare for a segment file: the files in use (cached, or held by reads
        /// and responses in flight) reached their bound (``LogManager/segmentFileOpenLimit``), or
        /// the process ran out of descriptors. Transient: retry once reads in flight have ended.
        public static let descriptorsExhausted = Code("descriptors exhausted")
        /// The code's name.
        public var description: String { raw }
    }

    /// What kind of failure this is.
    public var code: Code
    /// What failed, on what, and why.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// `code: message`.
    public var description: String { "\(code): \(message)" }
}
