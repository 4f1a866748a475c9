using SessionMcp.SessionRouting.Backends;

namespace SessionMcp.SessionRouting.Editing;

/// <summary>
/// A file cannot be read or edited as text (binary content, invalid UTF-8, an offset past its end).
/// The message is shown to the model as is.
/// </summary>
internal sealed class FileContentException(string message) : SessionException(message);
