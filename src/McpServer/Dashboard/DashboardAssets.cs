using System.Collections.Frozen;

namespace SessionMcp.McpServer.Dashboard;

/// <summary>
/// The dashboard's static files, embedded in the daemon's assembly at build time (see McpServer.csproj): its own page,
/// script and styles from <c>Dashboard/web</c>, and xterm.js from the npm packages <c>npm ci</c> installed there. A
/// build on a machine without npm has no xterm.js: the page then says so instead of showing terminals.
/// </summary>
internal static class DashboardAssets
{
    /// <summary>The files the terminal view needs, from npm; absent when the build had no npm.</summary>
    public static readonly IReadOnlyList<string> TerminalFiles = ["xterm.js", "xterm.css", "addon-fit.js"];

    private static readonly FrozenDictionary<string, string> ContentTypes = new Dictionary<string, string>
    {
        [".html"] = "text/html; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
        [".css"] = "text/css; charset=utf-8",
    }.ToFrozenDictionary();

    /// <summary>The file's bytes and content type, or null when it is not embedded.</summary>
    public static (byte[] Bytes, string ContentType)? Find(string name)
    {
        if (!ContentTypes.TryGetValue(Path.GetExtension(name), out var type))
        {
            return null;
        }
        using var stream = typeof(DashboardAssets).Assembly.GetManifestResourceStream("dashboard/" + name);
        if (stream is null)
        {
            return null;
        }
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return (copy.ToArray(), type);
    }

    /// <summary>Whether the build embedded xterm.js (it had npm).</summary>
    public static bool HasTerminal => TerminalFiles.All(f => typeof(DashboardAssets).Assembly.GetManifestResourceInfo("dashboard/" + f) is not null);
}
