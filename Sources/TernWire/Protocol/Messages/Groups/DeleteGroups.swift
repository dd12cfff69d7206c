/// DeleteGroups (key 42): removes empty groups and their committed offsets.
public struct DeleteGroupsRequest: WireRequest, Hashable {
    public typealias Response = DeleteGroupsResponse
    public static let apiKey = ApiKey.deleteGroups
    public var groupIds: [String]

    public init(groupIds: [String]) { self.groupIds = groupIds }

    public init(from reader: inout ByteReader) throws {
        groupIds = try reader.readStrings("groupIds")
    }

    public func encode(into writer: inout ByteWriter) {
        writer.writeStrings(groupIds)
    }
}

public struct DeleteGroupsResponse: WireResponse, Hashable {
    public struct Result: Sendable, Hashable {
        public var groupId: String
        public var errorCode: ErrorCode
        public var errorMessage: String?
        public init(groupId: String, errorCode: ErrorCode = .none, errorMessage: String? = nil) {
            self.groupId = groupId
            self.errorCode = errorCode
            self.errorMessage = errorMessage
        }
    }
    public var results: [Result]

    public init(results: [Result]) { self.results = results }

    public init(from reader: inout ByteReader) throws {
        results = try reader.readArray("results", minElementSize: 6) { r in
            Result(
                groupId: try r.readString("groupId"), errorCode: ErrorCode(rawValue: try r.readInt16("errorCode")),
                errorMessage: try r.readNullableString("errorMessage"))
        }
    }

    public func encode(into writer: inout ByteWriter) {
        writer.writeArray(results) { w, r in
            w.writeString(r.groupId)
            w.write(r.errorCode.rawValue)
            w.writeNullableString(r.errorMessage)
        }
    }
}
