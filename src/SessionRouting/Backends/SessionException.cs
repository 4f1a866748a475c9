namespace SessionMcp.SessionRouting.Backends;

/// <summary>
/// A failure the model can act on. The message is shown to the model as is, so it says what happened and what to do next;
/// internal details go to the log instead.
/// </summary>
public class SessionException(string message, Exception? innerException = null) : Exception(message, innerException);
