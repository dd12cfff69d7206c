/// Identifies a request type of the native protocol. Numbers follow Kafka's API keys where Kafka
/// has the same API, so that packet captures read familiarly.
public struct ApiKey: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let produce = ApiKey(rawValue: 0)
    public static let fetch = ApiKey(rawValue: 1)
    public static let listOffsets = ApiKey(rawValue: 2)
    public static let metadata = ApiKey(rawValue: 3)
    public static let apiVersions = ApiKey(rawValue: 18)
    public static let createTopics = ApiKey(rawValue: 19)
    public static let deleteTopics = ApiKey(rawValue: 20)
    public static let describeConfigs = ApiKey(rawValue: 32)
    public static let alterConfigs = ApiKey(rawValue: 33)
    public static let describeLogDirs = ApiKey(rawValue: 35)

    /// Every API this build knows, with the versions it speaks.
    public static let supported: [(key: ApiKey, minVersion: UInt16, maxVersion: UInt16)] = [
        (.produce, 0, 0), (.fetch, 0, 0), (.listOffsets, 0, 0), (.metadata, 0, 0),
        (.apiVersions, 0, 0), (.createTopics, 0, 0), (.deleteTopics, 0, 0), (.describeConfigs, 0, 0),
        (.alterConfigs, 0, 0), (.describeLogDirs, 0, 0),
    ]

    public var name: String {
        switch self {
        case .produce: "Produce"
        case .fetch: "Fetch"
        case .listOffsets: "ListOffsets"
        case .metadata: "Metadata"
        case .apiVersions: "ApiVersions"
        case .createTopics: "CreateTopics"
        case .deleteTopics: "DeleteTopics"
        case .describeConfigs: "DescribeConfigs"
        case .alterConfigs: "AlterConfigs"
        case .describeLogDirs: "DescribeLogDirs"
        default: "Api\(rawValue)"
        }
    }

    public var description: String { name }
}
