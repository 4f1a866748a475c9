using Microsoft.Playwright;
using SessionMcp.Tests.Shared;

namespace SessionMcp.McpServer.Tests.Dashboard;

/// <summary>A fact that needs Debian's chromium: skipped where it is missing, except in CI (CI=true), where it fails instead.</summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public ChromiumFactAttribute()
    {
        if (Chromium.SkipReason is { } reason)
        {
            Skip = reason;
        }
    }
}

/// <summary>
/// The installed browser, driven by Playwright for .NET: never a downloaded one (<see cref="ExecutablePath"/>), with the
/// switches that keep a headless chromium from reaching out (updates, sync, QUIC) or needing a GPU or a sandbox.
/// </summary>
public static class Chromium
{
    public const string ExecutablePath = "/usr/bin/chromium";

    /// <summary>Null when the browser tests should run; otherwise why they are skipped.</summary>
    public static string? SkipReason =>
        File.Exists(ExecutablePath) || NodeRequirement.InCi
            ? null
            : $"{ExecutablePath} not found: apt-get install chromium to run the dashboard's browser tests (.ci/run installs it; CI=true runs them anyway)";

    public static async Task<(IPlaywright Playwright, IBrowser Browser)> LaunchAsync()
    {
        Assert.True(File.Exists(ExecutablePath), $"{ExecutablePath} is missing: apt-get install chromium (.ci/install-chromium.sh)");
        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
        return (playwright, browser);
    }
}
