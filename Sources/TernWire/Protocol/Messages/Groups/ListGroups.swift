/// ListGroups (key 16): every consumer group the broker coordinates.
public struct ListGroupsRequest: WireRequest, Hashable {
    public typealias Response = ListGroupsResponse
    public static let apiKey = ApiKey.listGroups
    public init() {}
    public init(from reader: inout ByteReader) throws {}
    public func encode(into writer: inout ByteWriter) {}
}

public struct ListGroupsResponse: WireResponse, Hashable {
    public struct Group: Sendable, Hashable {
        public var groupId: String
        /// `Empty`, `Reconciling` or `Stable`.
        public var state: String
        public var memberCount: Int32
        public init(groupId: String, state: String, memberCount: Int32) {
            self.groupId = groupId
            self.state = state
            self.memberCount = memberCount
        }
    }
    public var groups: [Group]

    public init(groups: [Group]) { self.groups = groups }

    public init(from reader: inout ByteReader) throws {
        groups = try reader.readArray("groups", minElementSize: 8) { r in
            Group(
                groupId: try r.readString("groupId"), state: try r.readString("state"), memberCount: try r.readInt32())
        }
    }

    public func encode(into writer: inout ByteWriter) {
        writer.writeArray(groups) { w, g in
            w.writeString(g.groupId)
            w.writeString(g.state)
            w.write(g.memberCount)
        }
    }
}
