/// What `TernAdmin.describeCluster()` reports.
public struct ClusterDescription: Hashable, Sendable {
    /// A broker of the cluster and the address it advertises.
    public struct Broker: Hashable, Sendable {
        public var nodeId: Int32
        public var host: String
        public var port: Int
    }

    public var clusterId: String
    /// Node id of the active controller.
    public var controllerId: Int32
    public var brokers: [Broker]
    /// Software version of the broker that answered.
    public var brokerVersion: String
    /// How long that broker has been serving, in milliseconds.
    public var uptimeMs: Int64
}
