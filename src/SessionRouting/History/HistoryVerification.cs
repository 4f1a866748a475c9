using System.Text.Json.Nodes;
using SessionMcp.SessionRouting.Audit;

namespace SessionMcp.SessionRouting.History;

/// <summary>
/// What <c>audit verify</c> checks of workspace history: every event that recorded a workspace change still has rows
/// that hash to the digest in its summary (the hash chain covers the summary, so rows cannot be altered, added or
/// removed unseen), no rows exist that no event vouches for, and every stored content still hashes to its name.
/// </summary>
internal static class HistoryVerification
{
    public static (long Steps, long Blobs, IReadOnlyList<string> Problems) Check(HistoryStore store, AuditLog audit)
    {
        var problems = new List<string>();
        var vouched = new HashSet<long>();
        long from = 1;
        while (true)
        {
            var page = audit.ReadRange(from, 2000);
            foreach (var e in page)
            {
                if (e.Entry.SessionId is not { } sessionId
                    || e.Entry.Summary?.Contains("\"workspace\"", StringComparison.Ordinal) != true
                    || (Transcript.Parse(e.Entry.Summary) as JsonObject)?["workspace"]?["digest"]?.GetValue<string>() is not { } digest)
                {
                    continue;
                }
                vouched.Add(e.Seq);
                if (store.DigestOf(sessionId, e.Seq) != digest)
                {
                    problems.Add($"the workspace rows of event {e.Seq} (session {sessionId}) do not match the digest the event recorded (rows were altered or deleted)");
                }
            }
            if (page.Count < 2000)
            {
                break;
            }
            from = page[^1].Seq + 1;
        }
        foreach (var (sessionId, seq) in store.RecordedSteps().Where(s => !vouched.Contains(s.Seq)))
        {
            problems.Add($"session {sessionId} has workspace rows at event {seq} that no event records (rows were added)");
        }
        var (blobs, corrupt) = store.VerifyBlobs();
        problems.AddRange(corrupt.Select(hash => $"stored content {hash} does not match its hash (it was altered)"));
        return (vouched.Count, blobs, problems);
    }
}
