/// The encodings the cluster APIs share with the metadata log: a broker's listeners
/// (`name str16, host str16, port u16`) and its roles (a `u8` bit set).
extension ByteReader {
    /// Reads a u32-counted array of listeners.
    public mutating func readListeners(_ what: String = "listeners") throws -> [BrokerRegistrationRecord.Listener] {
        try readArray(what, minElementSize: 6) {
            BrokerRegistrationRecord.Listener(
                name: try $0.readString("listener name"), host: try $0.readString("listener host"),
                port: try $0.readUInt16("listener port"))
        }
    }

    /// Reads a roles byte; bits this build does not know are `.malformed`.
    public mutating func readRoles(_ what: String = "roles") throws -> BrokerRegistrationRecord.Roles {
        let raw = try readUInt8(what)
        let roles = BrokerRegistrationRecord.Roles(rawValue: raw)
        guard BrokerRegistrationRecord.Roles.known.isSuperset(of: roles) else {
            throw WireError(.malformed, "\(what): unknown role bits \(raw)")
        }
        return roles
    }
}

extension ByteWriter {
    /// Appends a u32-counted array of listeners.
    public mutating func writeListeners(_ listeners: [BrokerRegistrationRecord.Listener]) {
        writeArray(listeners) {
            $0.writeString($1.name)
            $0.writeString($1.host)
            $0.write($1.port)
        }
    }
}
