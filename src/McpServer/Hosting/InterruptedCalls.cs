using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using SessionMcp.SessionRouting.Audit;

namespace SessionMcp.McpServer.Hosting;

/// <summary>
/// At start: every call a previous server process began and never recorded (it was killed, crashed or lost power
/// mid-call) becomes an event of its own, so no call goes unaudited. What such a call left running is killed when the
/// backends reap their leftovers right after.
/// </summary>
internal static class InterruptedCalls
{
    public const string Message = "the server stopped (crash, kill or power loss) while this call ran; it returned no result, and whatever it started was killed when the server restarted";

    public static int Record(IServiceProvider services)
    {
        var audit = services.GetRequiredService<AuditLog>();
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        var calls = audit.InterruptedCalls();
        foreach (var call in calls)
        {
            audit.Append(
                new AuditEntry(
                    now,
                    call.SessionId,
                    AuditKinds.ToolCall,
                    call.Tool,
                    call.Client,
                    call.Arguments,
                    AuditOutcomes.Interrupted,
                    Message,
                    new JsonObject { ["started_at"] = HashChain.FormatTime(call.Started) }.ToJsonString(),
                    (long)(now - call.Started).TotalMilliseconds,
                    null,
                    call.Principal),
                endsCall: call.Id);
        }
        return calls.Count;
    }
}
