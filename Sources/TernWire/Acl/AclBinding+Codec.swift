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
        let type: AclResourceType = try reader.readAclCode("acl resource type")
        let name = try reader.readString("acl resource name")
        let pattern: AclPatternType = try reader.readAclCode("acl pattern type")
        let principal = try reader.readString("acl principal")
        let host = try reader.readString("acl host")
        let operation: AclOperation = try reader.readAclCode("acl operation")
        let permission: AclPermission = try reader.readAclCode("acl permission")
        return AclBinding(
            resourceType: type, resourceName: name, patternType: pattern, principal: principal, host: host,
            operation: operation, permission: permission)
    }
}

extension ByteReader {
    /// Reads an `i8` code of one of the ACL enums; a code the enum does not know is `.malformed`
    /// (naming `what`).
    mutating func readAclCode<Code: RawRepresentable>(_ what: String) throws -> Code where Code.RawValue == Int8 {
        let raw = try readInt8(what)
        guard let value = Code(rawValue: raw) else { throw WireError(.malformed, "unknown \(what) \(raw)") }
        return value
    }
}
