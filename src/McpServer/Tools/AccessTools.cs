using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Text;
using System.Text.Json.Nodes;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using SessionMcp.McpServer.Auditing;
using SessionMcp.McpServer.Results;
using SessionMcp.SessionRouting.Access;
using SessionMcp.SessionRouting.Routing;

namespace SessionMcp.McpServer.Tools;

/// <summary>Sharing a session with the holders of other tokens.</summary>
[McpServerToolType]
internal sealed class AccessTools(SessionRouter router)
{
    [McpServerTool(Name = "session_share", Title = "Share a session", Destructive = false, Idempotent = true, OpenWorld = false, ReadOnly = false, UseStructuredContent = true)]
    [Description("Lets the holder of another token (by its name) use a session you own: scope \"read\" (read-only tools) or \"full\" (every tool); \"none\" takes the share back. Only the session's owner or an admin can share it.")]
    public ShareResult Share(
        RequestContext<CallToolRequestParams> request,
        [Description("The session to share.")] string session_id,
        [Description("The name of the token to share it with, as the server's operator made it.")] string token_name,
        [Description("\"read\", \"full\", or \"none\" to take the share back.")][AllowedValues("read", "full", "none")] string scope)
    {
        var call = CallAudit.Of(request);
        var access = scope switch
        {
            "read" => SessionAccess.Read,
            "full" => SessionAccess.Full,
            _ => SessionAccess.None,
        };
        var (session, principal, sharedWith) = router.Share(call.Caller, session_id, token_name, access);
        call.Summary = new JsonObject { ["token_name"] = principal, ["scope"] = scope, ["shared_with"] = sharedWith.Count };
        return call.Complete(new ShareResult(
            session.Id, session.Owner, principal, scope,
            [.. sharedWith.Select(s => new ShareEntry(s.Key, SessionShares.Name(s.Value)))], 0));
    }
}

/// <summary>A session's share with one token.</summary>
internal sealed record ShareEntry(string TokenName, [property: Description("\"read\" or \"full\".")] string Scope);

/// <summary>The result of session_share: the change made and whom the session is shared with now.</summary>
internal sealed record ShareResult(
    string SessionId,
    [property: Description("The session's owner: a token's name, or \"local\".")] string Owner,
    string TokenName,
    [property: Description("The share now given to token_name: \"read\", \"full\" or \"none\".")] string Scope,
    IReadOnlyList<ShareEntry> SharedWith,
    long EventSeq) : IToolResult
{
    public IToolResult WithEventSeq(long eventSeq) => this with { EventSeq = eventSeq };

    public string Render()
    {
        var text = new StringBuilder(Scope == "none"
            ? $"session {SessionId} is no longer shared with token '{TokenName}'"
            : $"session {SessionId} is shared with token '{TokenName}' ({Scope})");
        text.Append($", event_seq {EventSeq}; owner {Owner}; shared with ");
        text.Append(SharedWith.Count == 0 ? "nobody" : string.Join(", ", SharedWith.Select(s => $"{s.TokenName} ({s.Scope})")));
        return text.ToString();
    }
}
