import TernNet
import TernRaft
import TernWire

/// A voter's controller listener address.
public struct QuorumAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { "\(host):\(port)" }
}

/// How a ``QuorumDriver`` runs one node of the metadata quorum: a voter, or an observer (a
/// broker-only node that fetches the log without voting). Timeouts in milliseconds.
public struct QuorumConfiguration: Sendable {
    /// This node's `node.id`.
    public var nodeId: RaftNodeId
    /// The other voters and their controller listeners; empty: this node alone is the quorum.
    /// For an observer: every voter.
    public var peers: [RaftNodeId: QuorumAddress]
    /// Where this node's controller listener binds; nil: no listener (only right with no peers,
    /// or for an observer: voters answer its fetches on its own connections).
    public var listenAddress: QuorumAddress?
    /// True for an observer (`process.roles = broker`): not one of the voters; it fetches the log
    /// from the leader (KIP-595) and never votes. Its peers are all the voters.
    public var isObserver = false
    /// Every voter must be configured with the same value; messages with another are refused.
    public var clusterId: String
    /// The log directory the quorum's directory (`__cluster_metadata-0`) lives in.
    public var logDir: String
    /// `controller.quorum.election.timeout.ms`: a follower that hears nothing from a leader for
    /// a random time in [timeout, 2 × timeout) starts an election.
    public var electionTimeoutMs: Int64 = 1000
    /// `controller.quorum.fetch.timeout.ms`: a leader not fetched from by a majority for this
    /// long resigns.
    public var fetchTimeoutMs: Int64 = 2000
    /// How often a follower fetches when it is caught up (the fetch is its heartbeat).
    public var fetchIntervalMs: Int64 = 50
    /// How often the node's timers are checked.
    public var tickIntervalMs: Int = 10
    /// Most entries one fetch response carries (at most ``RaftWireLimits/maxEntries``).
    public var maxFetchEntries = 64
    /// `controller.quorum.request.timeout.ms`: a peer connection on which nothing is
    /// acknowledged for this long while messages wait is dropped and made again.
    public var requestTimeoutMs = 2000
    /// How long one connect to a peer may take.
    public var connectTimeout: Duration = .seconds(2)
    /// Reconnect back-off: doubled after each failed or dropped connection, from min to max.
    public var reconnectBackoffMinMs = 50
    public var reconnectBackoffMaxMs = 1000
    /// Messages held per peer while it is unreachable, and sent but unacknowledged while it is
    /// connected; beyond that messages are dropped (Raft sends again).
    public var maxQueuedMessagesPerPeer = 256
    /// The same bound in bytes (one message always fits, however large).
    public var maxQueuedBytesPerPeer = 64 << 20
    /// `metadata.log.max.record.bytes.between.snapshots`: a snapshot is due once this many bytes
    /// of entries were applied since the last one (``QuorumDriver/snapshotDue``).
    public var snapshotMaxRecordBytes: Int64 = 20 << 20
    /// `metadata.log.max.snapshot.interval.ms`: a snapshot is also due when this long has passed
    /// since the last one and entries were applied since; 0 turns the time trigger off.
    public var snapshotIntervalMs: Int64 = 3_600_000
    /// The largest snapshot this node loads, takes or downloads from a leader (a FetchSnapshot
    /// answer announcing a larger one is refused before anything is buffered): the bound on
    /// what a leader can make a follower hold.
    public var maxSnapshotBytes = QuorumConfiguration.defaultMaxSnapshotBytes
    /// 256 MiB: far above a metadata image of thousands of topics.
    public static let defaultMaxSnapshotBytes = 256 << 20
    /// The seed of the node's election-timeout jitter; nil draws one.
    public var seed: UInt64?
    /// The controller listener's TLS (an SSL controller listener, which requires client
    /// certificates); nil: plaintext.
    public var listenerTLS: TLSContextHolder?
    /// The client TLS context of each new connection to a peer's controller listener; nil:
    /// plaintext.
    public var peerTLS: (@Sendable () throws(NetError) -> TLSContext)?
    /// Whether a request on the controller listener may be served, given its principal
    /// (`User:` and the client certificate's subject, `User:ANONYMOUS` without one), host and
    /// API; nil: every request is (a plaintext listener). A refused request is answered
    /// CLUSTER_AUTHORIZATION_FAILED and changes nothing.
    public var authorizeRequest: (@Sendable (_ principal: String, _ host: String, _ api: ApiKey) -> Bool)?

    public init(
        nodeId: RaftNodeId, peers: [RaftNodeId: QuorumAddress], listenAddress: QuorumAddress?, clusterId: String,
        logDir: String
    ) {
        self.nodeId = nodeId
        self.peers = peers
        self.listenAddress = listenAddress
        self.clusterId = clusterId
        self.logDir = logDir
    }

    /// Every voter, sorted: this node and its peers, or only the peers for an observer.
    public var voters: [RaftNodeId] { ((isObserver ? [] : [nodeId]) + peers.keys).sorted() }

    /// The largest frame a fetch answer may need: a full batch of the largest entries.
    var maxFetchFrameBytes: Int {
        maxFetchEntries * (RaftWireLimits.maxEntryBytes + RaftWireLimits.entryOverhead) + 4096
    }
}
