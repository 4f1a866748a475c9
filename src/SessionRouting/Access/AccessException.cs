using SessionMcp.SessionRouting.Backends;

namespace SessionMcp.SessionRouting.Access;

/// <summary>A refusal the caller can act on: a bad token name, a name taken, a share that is not allowed.</summary>
internal sealed class AccessException(string message) : SessionException(message);
