extension AclBinding {
    /// `i8 resource type, str16 resource name, i8 pattern type, str16 principal, str16 host,
    /// i8 operation, i8 permission` — the field order of Kafka's CreateAcls creation entry.
    public func encode(into writer: inout ByteWriter) {
        writer.write(resourceType.rawValue)
        writer.writeString(resourceName)
        writer.write(patternType.rawValue)
        writer.writeString(principal)
        writer.writeString(host)
        writer.write(operation.rawValue)
        writer.write(permission.rawValue)
    }

    /// Decodes one binding; unknown enum codes are `.malformed` (the values are not validated
    /// further here: ``invalidReason`` is for whoever stores the binding).
    public static func decode(from reader: inout ByteReader) throws -> AclBinding {
        let type = try AclResourceType.decode(from: &reader)
        let name = try reader.readString("acl resource name")
        let pattern = try AclPatternType.decode(from: &reader)
        let principal = try reader.readString("acl principal")
        let host = try reader.readString("acl host")
        let operation = try AclOperation.decode(from: &reader)
        let permission = try AclPermission.decode(from: &reader)
        return AclBinding(
            resourceType: type, resourceName: name, patternType: pattern, principal: principal, host: host,
            operation: operation, permission: permission)
    }
}

extension AclResourceType {
    static func decode(from reader: inout ByteReader) throws -> AclResourceType {
        let raw = try reader.readInt8("acl resource type")
        guard let value = AclResourceType(rawValue: raw) else {
            throw WireError(.malformed, "unknown acl resource type \(raw)")
        }
        return value
    }
}

extension AclPatternType {
    static func decode(from reader: inout ByteReader) throws -> AclPatternType {
        let raw = try reader.readInt8("acl pattern type")
        guard let value = AclPatternType(rawValue: raw) else {
            throw WireError(.malformed, "unknown acl pattern type \(raw)")
        }
        return value
    }
}

extension AclOperation {
    static func decode(from reader: inout ByteReader) throws -> AclOperation {
        let raw = try reader.readInt8("acl operation")
        guard let value = AclOperation(rawValue: raw) else {
            throw WireError(.malformed, "unknown acl operation \(raw)")
        }
        return value
    }
}

extension AclPermission {
    static func decode(from reader: inout ByteReader) throws -> AclPermission {
        let raw = try reader.readInt8("acl permission")
        guard let value = AclPermission(rawValue: raw) else {
            throw WireError(.malformed, "unknown acl permission \(raw)")
        }
        return value
    }
}
