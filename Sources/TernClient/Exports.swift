// The wire types that appear in TernClient's public API, re-exported so that `import TernClient`
// is all an application needs.
@_exported import struct TernWire.ErrorCode
@_exported import struct TernWire.RecordHeader
@_exported import enum TernWire.CompressionCodec
@_exported import struct TernWire.ScramMechanism
@_exported import struct TernWire.AclBinding
@_exported import struct TernWire.AclBindingFilter
@_exported import enum TernWire.AclResourceType
@_exported import enum TernWire.AclPatternType
@_exported import enum TernWire.AclOperation
@_exported import enum TernWire.AclPermission
