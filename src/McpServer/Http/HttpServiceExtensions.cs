using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using ModelContextProtocol.AspNetCore;
using SessionMcp.McpServer.Http;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>The daemon's Streamable HTTP transport for the MCP server that <c>AddSessionMcpServer</c> registered.</summary>
internal static class HttpServiceExtensions
{
    /// <summary>The path MCP is served at.</summary>
    public const string McpPath = "/mcp";

    /// <summary>The largest HTTP request body: a 16 MiB write, JSON-escaped at worst (6 bytes a byte), and the rest.</summary>
    public const long MaxRequestBodyBytes = 100L * 1024 * 1024;

    /// <summary>
    /// Kestrel on <paramref name="settings"/>' URLs, bearer-token authentication and Streamable HTTP on the same server
    /// options as the socket, so both reach the same registry, jobs and audit log. Both protocol generations: clients
    /// that <c>initialize</c> get a session, 2026-07-28 clients are served statelessly on the same endpoint.
    /// </summary>
    public static IMcpServerBuilder WithSessionHttpTransport(this IMcpServerBuilder builder, IWebHostBuilder webHost, HttpSettings settings)
    {
        webHost.UseKestrelCore().UseUrls(string.Join(';', settings.Urls.Select(u => u.GetLeftPart(UriPartial.Authority))));
        // Kestrel's 30 MB default would cut a 16 MiB file write (the largest the tools take) once JSON escapes it, with a
        // bare 413; above the tools' own limits the argument checks answer with a message a model can act on instead.
        // Bodies are read only after the token is checked.
        webHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = MaxRequestBodyBytes);
        if (settings.CertificatePath is { } certificatePath)
        {
            webHost.UseKestrelHttpsConfiguration().ConfigureKestrel(kestrel => kestrel.ConfigureHttpsDefaults(https =>
                https.ServerCertificate = LoadCertificate(certificatePath, settings.CertificateKeyPath)));
        }
        builder.Services.AddSingleton(settings);
        builder.Services.AddSingleton<RequestOriginGuard>();
        builder.Services.AddRouting();
        // HttpRequestAbort reads the call's request from it.
        builder.Services.AddHttpContextAccessor();
        builder.Services.AddAuthentication(BearerTokenHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, BearerTokenHandler>(BearerTokenHandler.SchemeName, configureOptions: null);
        builder.Services.AddAuthorization();
        // Nothing this daemon protects outlives it (HTTP sessions end with it): no keys written to ~/.aspnet.
        builder.Services.AddDataProtection().UseEphemeralDataProtectionProvider();
        return builder.WithHttpTransport(options => options.SessionMode = HttpServerSessionMode.StatefulForInitializeClients);
    }

    /// <summary>
    /// The request pipeline: Host and Origin checked first (403), then the token (401 with a Bearer challenge), then MCP
    /// at <see cref="McpPath"/>; <c>/healthz</c> answers without a token.
    /// </summary>
    public static WebApplication MapSessionHttp(this WebApplication app)
    {
        var guard = app.Services.GetRequiredService<RequestOriginGuard>();
        app.Use(async (context, next) =>
        {
            if (guard.Problem(context.Request) is { } problem)
            {
                context.Response.StatusCode = StatusCodes.Status403Forbidden;
                await context.Response.WriteAsync(problem + "\n", context.RequestAborted).ConfigureAwait(false);
                return;
            }
            await next(context).ConfigureAwait(false);
        });
        app.UseRouting();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapGet("/healthz", context => context.Response.WriteAsync("ok\n", context.RequestAborted));
        app.MapMcp(McpPath).RequireAuthorization();
        return app;
    }

    private static X509Certificate2 LoadCertificate(string path, string? keyPath) =>
        keyPath is not null ? X509Certificate2.CreateFromPemFile(path, keyPath)
        : path.EndsWith(".pem", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".crt", StringComparison.OrdinalIgnoreCase) ? X509Certificate2.CreateFromPemFile(path)
        : X509CertificateLoader.LoadPkcs12FromFile(path, Environment.GetEnvironmentVariable("SESSION_MCP_HTTP_CERT_PASSWORD"));
}
