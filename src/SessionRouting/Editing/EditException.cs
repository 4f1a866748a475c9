using SessionMcp.SessionRouting.Backends;

namespace SessionMcp.SessionRouting.Editing;

/// <summary>
/// An edit could not be applied. The message is written for the model that asked for the edit:
/// it says what went wrong and what to send instead.
/// </summary>
internal sealed class EditException(string message) : SessionException(message);
