/// Every broker configuration key, with its default. `Config/ternd.conf` documents each one and a
/// test keeps that file and this table in step.
public enum BrokerConfigKeys {
    static let maxInt = Int64(Int32.max)

    /// Keys whose values are secrets: DescribeConfigs reports them as sensitive, without a value.
    public static let sensitive: Set<String> = ["ssl.key.password", "inter.broker.sasl.password"]

    public static let all: [ConfigDefinition] = [
        ConfigDefinition("node.id", "0", .int(min: 0, max: maxInt), "This broker's id in the cluster."),
        ConfigDefinition(
            "listeners", "PLAINTEXT://127.0.0.1:9092", .string,
            "Where the node listens: comma-separated NAME://HOST:PORT; PLAINTEXT or SSL for clients, a controller.listener.names name for the quorum."),
        ConfigDefinition(
            "process.roles", "broker,controller", .processRoles,
            "What this node does: broker, controller, or broker,controller."),
        ConfigDefinition(
            "controller.quorum.voters", "", .quorumVoters,
            "The metadata quorum's voters, ID@HOST:PORT comma-separated; empty: this node alone is the quorum."),
        ConfigDefinition(
            "controller.listener.names", "CONTROLLER", .listenerNames,
            "Names of the listeners the quorum uses; the first is the one controllers connect to."),
        ConfigDefinition(
            "listener.security.protocol.map", "", .securityProtocolMap,
            "NAME:PROTOCOL pairs, e.g. CONTROLLER:SSL (mutual TLS on the controller listener); unmapped names: a protocol's name is that protocol, others PLAINTEXT."),
        ConfigDefinition(
            "broker.session.timeout.ms", "9000", .int(min: 1, max: maxInt),
            "A broker without a heartbeat to the active controller this long is fenced."),
        ConfigDefinition(
            "broker.heartbeat.interval.ms", "2000", .int(min: 1, max: maxInt),
            "How often a broker heartbeats to the active controller (below broker.session.timeout.ms)."),
        ConfigDefinition(
            "controlled.shutdown.enable", "true", .bool,
            "On SIGTERM a broker of a multi-node cluster first has the controller move its partition leadership away."),
        ConfigDefinition(
            "controlled.shutdown.timeout.ms", "30000", .int(min: 0, max: maxInt),
            "Longest a controlled shutdown waits for the controller before the broker stops anyway."),
        ConfigDefinition(
            "auto.leader.rebalance.enable", "true", .bool,
            "The active controller periodically moves leadership back to each partition's preferred replica."),
        ConfigDefinition(
            "leader.imbalance.check.interval.seconds", "300", .int(min: 1, max: maxInt),
            "How often the active controller looks for partitions not led by their preferred replica."),
        ConfigDefinition(
            "controller.quorum.election.timeout.ms", "1000", .int(min: 1, max: maxInt),
            "How long a voter waits for votes before it starts a new election."),
        ConfigDefinition(
            "controller.quorum.fetch.timeout.ms", "2000", .int(min: 1, max: maxInt),
            "A voter that hears nothing from the leader this long starts an election."),
        ConfigDefinition(
            "metadata.log.max.snapshot.interval.ms", "3600000", .int(min: 0, max: Int64.max),
            "Longest time between metadata log snapshots (0: no time bound)."),
        ConfigDefinition(
            "metadata.log.max.record.bytes.between.snapshots", "20971520", .int(min: 1, max: Int64.max),
            "Metadata log bytes written since the last snapshot that trigger a new one."),
        ConfigDefinition(
            "ssl.certificate.location", "", .string,
            "SSL listeners: the broker's certificate chain, PEM, leaf first."),
        ConfigDefinition("ssl.key.location", "", .string, "SSL listeners: the private key of the certificate, PEM."),
        ConfigDefinition("ssl.key.password", "", .string, "The password of an encrypted ssl.key.location; empty: none."),
        ConfigDefinition(
            "ssl.ca.location", "", .string,
            "SSL listeners: the CA certificates (PEM) that sign client certificates; needed for ssl.client.auth."),
        ConfigDefinition(
            "ssl.client.auth", "none", .oneOf(["none", "requested", "required"]),
            "SSL listeners: ask clients for a certificate (requested) or refuse those without a valid one (required)."),
        ConfigDefinition(
            "ssl.protocols", "TLSv1.2,TLSv1.3", .listOf(["TLSv1.2", "TLSv1.3"]), "TLS versions SSL listeners accept."),
        ConfigDefinition(
            "ssl.cipher.suites", "", .string,
            "Comma-separated OpenSSL cipher names (TLS_* for TLS 1.3); empty: OpenSSL's defaults."),
        ConfigDefinition(
            "ssl.reload.check.interval.ms", "30000", .int(min: 0, max: maxInt),
            "How often the certificate, key and CA files are checked for changes and reloaded (0: only on SIGHUP)."),
        ConfigDefinition(
            "sasl.enabled.mechanisms", "SCRAM-SHA-256,SCRAM-SHA-512", .listOf(["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"]),
            "SASL mechanisms offered on SASL_PLAINTEXT and SASL_SSL listeners."),
        ConfigDefinition(
            "sasl.plain.allow.plaintext", "false", .bool,
            "Offer PLAIN on SASL_PLAINTEXT listeners too, where the password crosses the network in clear text."),
        ConfigDefinition(
            "sasl.bootstrap.users.file", "", .string,
            "File of NAME:PASSWORD lines: users created (every enabled SCRAM mechanism) when they do not exist; mode 600."),
        ConfigDefinition(
            "connection.failed.authentication.delay.ms", "100", .int(min: 0, max: maxInt),
            "How long a failed SASL authentication waits before its answer (slows password guessing)."),
        ConfigDefinition(
            "authorizer.enable", "false", .bool,
            "Check every request against the ACLs stored in the cluster metadata (tern acl add|remove|list)."),
        ConfigDefinition(
            "super.users", "", .principals,
            "Principals allowed everything whatever the ACLs say: User:NAME entries separated by ';'."),
        ConfigDefinition(
            "allow.everyone.if.no.acl.found", "false", .bool,
            "With the authorizer on, allow an operation on a resource that no ACL names (false: deny it)."),
        ConfigDefinition(
            "admin.listeners", "127.0.0.1:9644", .string,
            "The admin HTTP listener (/metrics, /health/live, /health/ready, /v1/cluster): HOST:PORT, comma-separated; empty disables it."),
        ConfigDefinition(
            "advertised.listeners", "", .string,
            "The addresses clients are told to use, one per listener scheme; a listener without one advertises itself."),
        ConfigDefinition("log.dirs", "./tern-data", .string, "Comma-separated directories that hold partition logs."),
        ConfigDefinition("num.partitions", "1", .int(min: 1, max: 100_000), "Partitions of a topic created without a count."),
        ConfigDefinition(
            "default.replication.factor", "1", .int(min: 1, max: 32_767),
            "Replicas of a new topic created without a factor (at most the live brokers)."),
        ConfigDefinition("min.insync.replicas", "1", .int(min: 1, max: maxInt), "Replicas that must have a record for acks=all."),
        ConfigDefinition(
            "num.replica.fetchers", "1", .int(min: 1, max: 64),
            "Connections (fetchers) per leader broker that this broker's followers fetch over."),
        ConfigDefinition(
            "replica.fetch.max.bytes", "1048576", .int(min: 1024, max: maxInt),
            "Record bytes a follower asks for per partition and per fetch (at least one whole batch comes)."),
        ConfigDefinition(
            "replica.fetch.wait.max.ms", "500", .int(min: 0, max: 30_000),
            "How long a leader holds a follower's fetch that finds nothing new."),
        ConfigDefinition(
            "replica.lag.time.max.ms", "30000", .int(min: 100, max: maxInt),
            "A follower not caught up with its leader for this long leaves the in-sync set."),
        ConfigDefinition(
            "replica.high.watermark.checkpoint.interval.ms", "5000", .int(min: 100, max: maxInt),
            "How often replicated partitions' high watermarks are written to replication-offset-checkpoint."),
        ConfigDefinition(
            "inter.broker.listener.name", "", .string,
            "The leader's listener (by name) that followers fetch from; empty: this broker's first listener's name."),
        ConfigDefinition(
            "sasl.mechanism.inter.broker.protocol", "SCRAM-SHA-256", .oneOf(["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"]),
            "The SASL mechanism followers log in with when the inter-broker listener is SASL_PLAINTEXT or SASL_SSL."),
        ConfigDefinition(
            "inter.broker.sasl.username", "", .string,
            "The user followers log in as on a SASL inter-broker listener (a SCRAM user; a super user with the authorizer)."),
        ConfigDefinition(
            "inter.broker.sasl.password", "", .string, "The password of inter.broker.sasl.username (sensitive)."),
        ConfigDefinition(
            "ssl.endpoint.identification.algorithm", "https", .oneOf(["https", "none"]),
            "Followers on an SSL inter-broker listener (and nodes dialing an SSL controller listener): https checks the peer's certificate names the host dialed."),
        ConfigDefinition(
            "auto.create.topics.enable", "false", .bool, "Create a topic when a client asks for metadata of an unknown one."),
        ConfigDefinition(
            "max.partitions", "100000", .int(min: 1, max: 10_000_000),
            "Most partitions on this broker, all topics together (internal ones included); a creation past it is refused."),
        ConfigDefinition("log.segment.bytes", "1073741824", .int(min: 1024, max: maxInt), "Roll a new segment past this size."),
        ConfigDefinition("log.roll.ms", "604800000", .int(min: 1, max: Int64.max), "Roll a new segment after this age."),
        ConfigDefinition(
            "log.index.interval.bytes", "4096", .int(min: 0, max: maxInt), "Bytes of log between offset-index entries."),
        ConfigDefinition(
            "log.max.open.files", "0", .int(min: 0, max: maxInt),
            "Segment files kept open at most (least recently used closed past it); 0: half the descriptor limit."),
        ConfigDefinition(
            "log.flush.mode", "sync", .oneOf(["sync", "interval"]),
            "sync: acks=all waits for a group-committed fdatasync; interval: flush every log.flush.interval.ms."),
        ConfigDefinition(
            "log.flush.interval.ms", "1000", .int(min: 1, max: maxInt),
            "How often data no acks=all request has flushed is fdatasync'ed in the background (both modes)."),
        ConfigDefinition(
            "log.flush.offset.checkpoint.interval.ms", "60000", .int(min: 1, max: maxInt),
            "How often the recovery-point checkpoint is written (recovery after a crash scans only past it)."),
        ConfigDefinition(
            "log.cleanup.policy", "delete", .listOf(["delete", "compact"]), "Default cleanup.policy of new topics."),
        ConfigDefinition(
            "log.key.index.enable", "false", .bool,
            "Default key.index.enable of new topics: keep a per-partition index from record key to offsets."),
        ConfigDefinition(
            "log.retention.ms", "604800000", .int(min: -1, max: Int64.max),
            "Default retention.ms of new topics (-1: keep forever)."),
        ConfigDefinition(
            "log.retention.bytes", "-1", .int(min: -1, max: Int64.max),
            "Default retention.bytes of new topics (-1: no size bound)."),
        ConfigDefinition(
            "log.retention.check.interval.ms", "300000", .int(min: 1, max: Int64.max),
            "How often segments past retention.ms or retention.bytes are looked for and deleted."),
        ConfigDefinition(
            "producer.id.expiration.ms", "86400000", .int(min: 1, max: Int64.max),
            "A partition forgets an idempotent producer that has not written to it for this long (checked every log.retention.check.interval.ms)."),
        ConfigDefinition(
            "log.cleaner.enable", "true", .bool, "Run the log cleaner that compacts topics with cleanup.policy=compact."),
        ConfigDefinition("log.cleaner.threads", "1", .int(min: 1, max: 64), "Cleaner threads."),
        ConfigDefinition(
            "log.cleaner.backoff.ms", "15000", .int(min: 1, max: Int64.max),
            "How long an idle cleaner thread sleeps before looking for a log to clean again."),
        ConfigDefinition(
            "log.cleaner.dedupe.buffer.size", "134217728", .int(min: 1 << 16, max: Int64(1) << 40),
            "Memory of the cleaners' key-to-offset maps, all threads together (24 bytes per key)."),
        ConfigDefinition(
            "log.cleaner.min.cleanable.ratio", "0.5", .double(min: 0, max: 1),
            "Default min.cleanable.dirty.ratio of compacted topics."),
        ConfigDefinition(
            "log.cleaner.delete.retention.ms", "86400000", .int(min: 0, max: Int64.max),
            "Default delete.retention.ms of compacted topics: how long tombstones are kept."),
        ConfigDefinition(
            "message.max.bytes", "1048588", .int(min: 0, max: maxInt), "Largest record batch the broker accepts."),
        ConfigDefinition(
            "socket.request.max.bytes", "104857600", .int(min: 1024, max: maxInt), "Largest request frame accepted."),
        ConfigDefinition(
            "max.incremental.fetch.session.cache.slots", "1000", .int(min: 0, max: 1_000_000),
            "Fetch sessions (Fetch v1) the broker keeps; the least recently used is evicted for a new one."),
        ConfigDefinition(
            "connections.max.idle.ms", "600000", .int(min: 1, max: Int64.max), "Close connections idle this long."),
        ConfigDefinition(
            "connections.max.partial.request.ms", "30000", .int(min: 1, max: Int64.max),
            "Close connections that hold part of a request frame this long while the broker reads them (stalled or trickling senders)."),
        ConfigDefinition(
            "queued.max.request.bytes", "104857600", .int(min: -1, max: Int64(1) << 40),
            "Bytes of received, unhandled requests (partial frames included) over all connections; reading pauses above it (-1: unbounded)."),
        ConfigDefinition(
            "max.connections", "2147483647", .int(min: 1, max: maxInt),
            "Client connections open at once over all listeners; more are closed as they are accepted."),
        ConfigDefinition(
            "max.connections.per.ip", "2147483647", .int(min: 1, max: maxInt),
            "Client connections open at once from one IP address; more are closed as they are accepted."),
        ConfigDefinition(
            "fetch.max.wait.cap.ms", "30000", .int(min: 0, max: maxInt),
            "The longest a fetch may wait for data (a client's maxWaitMs above it is lowered to it)."),
        ConfigDefinition(
            "num.network.threads", "0", .int(min: 0, max: 256),
            "Serial event queues for connections; 0 means one per core."),
        ConfigDefinition(
            "shutdown.timeout.ms", "10000", .int(min: 0, max: maxInt),
            "How long a graceful stop waits for in-flight requests."),
        ConfigDefinition(
            "offsets.topic.num.partitions", "50", .int(min: 1, max: 1000),
            "Partitions of __consumer_offsets, fixed when it is first created."),
        ConfigDefinition(
            "offsets.topic.replication.factor", "3", .int(min: 1, max: 32_767),
            "Replicas of __consumer_offsets partitions: as many live brokers as there are, up to this; widened by reassignment as brokers join."),
        ConfigDefinition(
            "offsets.topic.segment.bytes", "104857600", .int(min: 1024, max: Int64(Int32.max)),
            "segment.bytes of __consumer_offsets when it is created: small, so the cleaner can compact it."),
        ConfigDefinition(
            "offsets.commit.timeout.ms", "5000", .int(min: 1, max: maxInt),
            "How long a group write (offset commit, membership) to a replicated __consumer_offsets partition waits for its high watermark before COORDINATOR_NOT_AVAILABLE."),
        ConfigDefinition(
            "group.min.session.timeout.ms", "6000", .int(min: 1, max: maxInt),
            "Smallest session.timeout.ms a consumer group member may ask for."),
        ConfigDefinition(
            "group.max.session.timeout.ms", "1800000", .int(min: 1, max: maxInt),
            "Largest session.timeout.ms a consumer group member may ask for."),
        ConfigDefinition(
            "group.consumer.heartbeat.interval.ms", "5000", .int(min: 1, max: maxInt),
            "How often consumer group members heartbeat to the coordinator."),
        ConfigDefinition(
            "log.level", "info", .oneOf(["trace", "debug", "info", "notice", "warning", "error", "critical"]),
            "Lowest level of log lines written to stderr."),
        ConfigDefinition(
            "log.format", "text", .oneOf(["text", "json"]),
            "text: one human-readable line per event; json: one JSON object per line."),
    ]

    /// Looks a key up by name.
    public static func definition(_ name: String) -> ConfigDefinition? { byName[name] }

    private static let byName: [String: ConfigDefinition] = Dictionary(
        uniqueKeysWithValues: all.map { ($0.name, $0) })
}

/// Every topic-level configuration key, with the broker key that gives its default.
public enum TopicConfigKeys {
    public struct Key: Sendable {
        public let definition: ConfigDefinition
        /// The broker key whose value is this key's default, if any.
        public let brokerDefault: String?
    }

    public static let all: [Key] = [
        Key(
            definition: ConfigDefinition(
                "cleanup.policy", "delete", .listOf(["delete", "compact"]), "delete, compact, or compact,delete."),
            brokerDefault: "log.cleanup.policy"),
        Key(
            definition: ConfigDefinition("retention.ms", "604800000", .int(min: -1, max: Int64.max), "Keep records this long."),
            brokerDefault: "log.retention.ms"),
        Key(
            definition: ConfigDefinition(
                "retention.bytes", "-1", .int(min: -1, max: Int64.max), "Bound on a partition's size."),
            brokerDefault: "log.retention.bytes"),
        Key(
            definition: ConfigDefinition(
                "segment.bytes", "1073741824", .int(min: 1024, max: Int64(Int32.max)), "Segment size."),
            brokerDefault: "log.segment.bytes"),
        Key(
            definition: ConfigDefinition("segment.ms", "604800000", .int(min: 1, max: Int64.max), "Segment age."),
            brokerDefault: "log.roll.ms"),
        Key(
            definition: ConfigDefinition(
                "max.message.bytes", "1048588", .int(min: 0, max: Int64(Int32.max)), "Largest batch."),
            brokerDefault: "message.max.bytes"),
        Key(
            definition: ConfigDefinition(
                "min.insync.replicas", "1", .int(min: 1, max: Int64(Int32.max)), "Replicas needed for acks=all."),
            brokerDefault: "min.insync.replicas"),
        Key(
            definition: ConfigDefinition(
                "delete.retention.ms", "86400000", .int(min: 0, max: Int64.max), "How long tombstones are kept."),
            brokerDefault: "log.cleaner.delete.retention.ms"),
        Key(
            definition: ConfigDefinition(
                "min.cleanable.dirty.ratio", "0.5", .double(min: 0, max: 1), "Dirty share that triggers compaction."),
            brokerDefault: "log.cleaner.min.cleanable.ratio"),
        Key(
            definition: ConfigDefinition(
                "index.interval.bytes", "4096", .int(min: 0, max: Int64(Int32.max)), "Bytes between index entries."),
            brokerDefault: "log.index.interval.bytes"),
        Key(
            definition: ConfigDefinition(
                "replication.throttled.rate", "-1", .int(min: -1, max: Int64.max),
                "Bytes per second for replication of this topic's partitions while they are reassigned (-1: unthrottled); removed when the last reassignment ends."),
            brokerDefault: nil),
        Key(
            definition: ConfigDefinition(
                "key.index.enable", "false", .bool,
                "Keep an index from record key to offsets (FetchKey, tern consume --key)."),
            brokerDefault: "log.key.index.enable"),
    ]

    /// Looks a topic key up by name.
    public static func key(_ name: String) -> Key? { byName[name] }

    private static let byName: [String: Key] = Dictionary(uniqueKeysWithValues: all.map { ($0.definition.name, $0) })
}
