using SessionMcp.SessionRouting.Backends;

namespace SessionMcp.SessionRouting.History;

/// <summary>Getting a session's work out was refused or failed; the message says why and what to do, and nothing was changed.</summary>
internal sealed class ExportException(string message) : SessionException(message);
