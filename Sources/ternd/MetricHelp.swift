/// `# HELP` text of the metrics Tern defines (the registry is fed through swift-metrics, which
/// carries no help text). Keep in step with docs/operations.md.
enum MetricHelp {
    static let text: [String: String] = [
        "tern_requests_total": "Requests received, per API.",
        "tern_quorum_role":
            "This node's role in the metadata quorum: 0 unattached, 1 prospective, 2 candidate, 3 follower, 4 leader, 5 observer (a broker-only node).",
        "tern_quorum_epoch": "The metadata quorum's epoch as this node knows it.",
        "tern_quorum_high_watermark": "Metadata log entries committed (the high watermark) as this node knows it.",
        "tern_quorum_commit_lag": "Metadata log entries this node holds that are not yet committed (log end minus high watermark).",
        "tern_quorum_has_leader": "1 when this node knows a leader of the metadata quorum, 0 otherwise.",
        "tern_quorum_elections_total": "Epoch increases this node has seen since it started (each is an election in the quorum).",
        "tern_cluster_brokers": "Brokers registered in the committed metadata image.",
        "tern_cluster_fenced_brokers": "Registered brokers that are fenced (no heartbeat within broker.session.timeout.ms, or not caught up).",
        "tern_under_replicated_partitions":
            "Partitions this broker leads whose in-sync replica set is smaller than their replica set.",
        "tern_offline_partitions":
            "Partitions of the whole cluster without a leader that can serve (none elected, or the leader is fenced).",
        "tern_replica_max_lag":
            "The most records any follower of a partition this broker leads is behind the leader's log end (as the leader sees it).",
        "tern_replica_max_lag_seconds":
            "The longest time any follower of a partition this broker leads has gone without having everything the leader had (the clock replica.lag.time.max.ms is measured on).",
        "tern_replication_throttled_bytes_total":
            "Bytes of replicas being added by a reassignment moved under replication.throttled.rate, per direction (leader: sent, follower: fetched).",
        "tern_isr_shrinks_total":
            "ISR changes this broker proposed as a partition leader that the controller committed and that removed a replica.",
        "tern_isr_expands_total":
            "ISR changes this broker proposed as a partition leader that the controller committed and that added a replica.",
        "tern_request_errors_total":
            "Requests or partitions of requests answered with an error code, per API and code.",
        "tern_request_duration_seconds":
            "Time from a request's arrival to its response being handed to the connection, per API.",
        "tern_topic_bytes_in_total": "Record-batch bytes appended by produce requests, per topic.",
        "tern_topic_records_in_total": "Records appended by produce requests, per topic.",
        "tern_topic_bytes_out_total": "Record-batch bytes sent in fetch responses, per topic.",
        "tern_topic_records_out_total": "Records sent in fetch responses, per topic.",
        "tern_log_end_offset": "The next offset to be written, per partition.",
        "tern_log_start_offset": "The first offset still in the log, per partition.",
        "tern_log_size_bytes": "Bytes of all segments of the log, per partition.",
        "tern_log_flushes_total": "Partition-log flushes that synced data.",
        "tern_log_fsyncs_total": "fdatasync/fsync calls made by log flushes (segments, index files, directories).",
        "tern_log_flush_duration_seconds": "Time one partition-log flush spent in sync calls.",
        "tern_log_corrupt_batches_total":
            "Corrupt stretches of segment files (usually one batch each) that start-up recovery set aside in .corrupt files, keeping the batches after them.",
        "tern_log_corrupt_bytes_total": "Bytes of the corrupt stretches start-up recovery set aside.",
        "tern_log_recovery_segments_scanned_total": "Segments start-up recovery CRC-scanned (from the recovery point on).",
        "tern_log_recovery_bytes_read_total": "Bytes start-up recovery read from segment files to check them.",
        "tern_log_key_index_memory_bytes":
            "Memory of key indexes (key.index.enable): active segments' indexes and sealed segments' block tables.",
        "tern_log_open_segment_files":
            "Segment log files open now: those kept by the open-file cache plus evicted ones a read still uses.",
        "tern_log_open_segment_files_limit": "Segment log files the open-file cache keeps at most (log.max.open.files).",
        "tern_log_segment_file_opens":
            "Segment log files opened since start, reopens after eviction included (a fast rise: raise log.max.open.files).",
        "tern_cleaner_bytes_cleaned_total": "Bytes of dirty log the log cleaner has compacted.",
        "tern_cleaner_runs_total": "Cleanings the log cleaner has completed.",
        "tern_cleaner_failures_total": "Cleanings that failed (the partition is then left uncleaned until a restart).",
        "tern_cleaner_dirty_ratio": "Share of a compacted partition's non-active bytes not yet compacted.",
        "tern_cleaner_dirty_bytes": "Bytes of a compacted partition not yet compacted (the cleaner's lag).",
        "tern_connections_open": "Open client connections, per broker listener.",
        "tern_sasl_authentications_total":
            "SASL authentications on SASL listeners, per mechanism and result (success or failure; mechanism none: a request before authentication, unsupported: a mechanism not offered).",
        "tern_sasl_connections_revoked_total":
            "SASL-authenticated connections closed because the credential they authenticated with was deleted or changed, per reason (credential_deleted, credential_changed).",
        "tern_authorization_denied_total":
            "Authorization checks denied (authorizer.enable), per resource type of the denied resource (topic, group, cluster).",
        "tern_connections_refused_total":
            "Client connections closed at accept because they were over max.connections or max.connections.per.ip, per limit.",
        "tern_request_queued_bytes":
            "Bytes of received, unhandled requests counted against queued.max.request.bytes (partial frames included).",
        "tern_request_memory_waiting_connections":
            "Connections that stopped reading until queued.max.request.bytes has room for their next frame.",
        "tern_consumer_group_lag":
            "Records between a group's committed offset and the log end offset, per group and partition.",
        "tern_topics": "Topics.",
        "tern_partitions": "Partition logs on this broker.",
        "tern_uptime_seconds": "Seconds since the broker opened its logs.",
        "process_resident_memory_bytes": "Resident memory size in bytes.",
        "process_virtual_memory_bytes": "Virtual memory size in bytes.",
        "process_open_fds": "Open file descriptors.",
        "process_max_fds": "Maximum number of open file descriptors (RLIMIT_NOFILE).",
    ]
}
