import TernWire

/// An error from the Tern SDK: what failed, on what (topic, partition, offset, peer) and why.
///
/// Match on ``code``; the codes are static constants rather than enum cases so that new ones can be
/// added without breaking callers. When the broker answered with an error code, ``brokerError``
/// holds it (``Code/broker`` and ``Code/unknownTopic`` errors carry one).
public struct TernError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let raw: String
        private init(_ raw: String) { self.raw = raw }

        /// No connection could be made to a broker, or an open one failed.
        public static let connectionFailed = Code("connection failed")
        /// A request got no answer within its timeout.
        public static let timedOut = Code("timed out")
        /// The topic does not exist (or the partition is not one of its partitions).
        public static let unknownTopic = Code("unknown topic")
        /// The broker answered with an error code; see ``TernError/brokerError``.
        public static let broker = Code("broker error")
        /// An argument or configuration value is not valid.
        public static let invalidArgument = Code("invalid argument")
        /// The client, producer or consumer has been closed.
        public static let closed = Code("closed")
        /// The broker sent bytes that are not a valid response.
        public static let protocolError = Code("protocol error")
        /// A consumer's position is outside the log and `autoOffsetReset` is `.none`.
        public static let offsetOutOfRange = Code("offset out of range")
        /// A consumer's partition log was truncated below its position after a leader change (the
        /// new leader's log diverged from what was fetched) and `autoOffsetReset` is `.none`: the
        /// partition stops until the application seeks. See ``LogTruncation``.
        public static let logTruncated = Code("log truncated")
        /// A conditional append's condition did not hold: nothing was appended. The error's
        /// ``TernError/actualOffset`` is what the broker saw (log end offset, or the key's latest
        /// offset, -1 for none).
        public static let conditionFailed = Code("condition failed")
        /// SASL authentication was refused (wrong user or password, mechanism not offered), or the
        /// broker could not prove it holds the user's credential.
        public static let authenticationFailed = Code("authentication failed")

        public var description: String { raw }
    }

    /// What kind of failure this is.
    public var code: Code
    /// The broker's error code, when the failure was reported by a broker.
    public var brokerError: ErrorCode?
    /// What failed, on what, and why.
    public var message: String
    /// For a failed conditional append (``Code/conditionFailed``, or ``Code/offsetOutOfRange``
    /// for an expected offset past the log): the offset the condition was checked against — the
    /// log end offset for ``AppendCondition/endOffset(_:)``, the key's latest offset (-1: none)
    /// for key conditions. Nil otherwise.
    public var actualOffset: Int64?

    /// Creates an error.
    public init(_ code: Code, _ message: String, brokerError: ErrorCode? = nil, actualOffset: Int64? = nil) {
        self.code = code
        self.message = message
        self.brokerError = brokerError
        self.actualOffset = actualOffset
    }

    /// Whether retrying the same operation later may succeed: connection failures, timeouts and
    /// the broker's retriable codes (`NOT_LEADER_OR_FOLLOWER`, `LEADER_NOT_AVAILABLE`, …).
    public var isRetriable: Bool {
        if let brokerError { return brokerError.isRetriable }
        return code == .connectionFailed || code == .timedOut
    }

    public var description: String { message }
}

extension TernError {
    /// An error for a broker's error code, prefixed with what was being done (`context`).
    static func broker(_ errorCode: ErrorCode, _ brokerMessage: String?, context: String) -> TernError {
        var text = "\(context): \(errorCode.explanation) (\(errorCode.name))"
        if let brokerMessage, !brokerMessage.isEmpty { text += ": \(brokerMessage)" }
        let code: Code =
            switch errorCode {
            case .unknownTopicOrPartition: .unknownTopic
            case .offsetOutOfRange: .offsetOutOfRange
            case .conditionFailed: .conditionFailed
            default: .broker
            }
        return TernError(code, text, brokerError: errorCode)
    }

    /// Wraps a decoding failure of a response from `peer`.
    static func protocolError(_ error: any Error, peer: String, api: ApiKey) -> TernError {
        TernError(.protocolError, "malformed \(api.name) response from \(peer): \(error)")
    }
}

extension ErrorCode {
    /// A short human explanation of the code, used in error messages.
    var explanation: String {
        switch self {
        case .topicAuthorizationFailed: "not authorized for the topic"
        case .groupAuthorizationFailed: "not authorized for the group"
        case .clusterAuthorizationFailed: "not authorized for the cluster"
        case .offsetOutOfRange: "offset out of range"
        case .corruptMessage: "corrupt record batch"
        case .unknownTopicOrPartition: "topic or partition does not exist"
        case .leaderNotAvailable: "leader not available"
        case .notLeaderOrFollower: "broker is not the partition's leader"
        case .requestTimedOut: "request timed out on the broker"
        case .messageTooLarge: "record batch too large"
        case .invalidTopic: "invalid topic name"
        case .recordListTooLarge: "record list too large"
        case .notEnoughReplicas: "not enough in-sync replicas"
        case .invalidRequiredAcks: "invalid acks"
        case .unsupportedVersion: "unsupported API version"
        case .topicAlreadyExists: "topic already exists"
        case .invalidPartitions: "invalid partition count"
        case .invalidReplicationFactor: "invalid replication factor"
        case .invalidConfig: "invalid config"
        case .invalidRequest: "invalid request"
        case .kafkaStorageError: "storage error on the broker"
        case .unsupportedCompressionType: "unsupported compression"
        case .invalidRecord: "invalid record"
        case .unknownServerError: "unexpected broker error"
        case .coordinatorLoadInProgress: "group coordinator is loading"
        case .coordinatorNotAvailable: "group coordinator not available"
        case .notCoordinator: "broker is not the group's coordinator"
        case .invalidGroupId: "invalid group id"
        case .unknownMemberId: "unknown group member"
        case .invalidSessionTimeout: "session timeout outside the broker's bounds"
        case .nonEmptyGroup: "group has active members"
        case .groupIdNotFound: "group does not exist"
        case .fencedMemberEpoch: "group member was fenced"
        case .staleMemberEpoch: "stale group member epoch"
        case .conditionFailed: "condition failed"
        case .keyIndexDisabled: "the topic keeps no key index (key.index.enable=false)"
        default: "broker error"
        }
    }
}
