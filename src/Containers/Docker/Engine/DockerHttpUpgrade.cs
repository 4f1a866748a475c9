using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;

namespace SessionMcp.Containers.Docker.Engine;

/// <summary>
/// A hand-written HTTP/1.1 exchange for the engine's connection hijack (101 + raw stream). We keep the socket
/// ourselves because half-closing stdin needs <c>Shutdown(Send)</c>, which HttpClient's upgraded stream cannot do.
/// </summary>
internal static class DockerHttpUpgrade
{
    private const int MaxHeadLength = 64 * 1024;
    private static readonly byte[] HeadTerminator = "\r\n\r\n"u8.ToArray();

    /// <summary>The parsed response head plus whatever bytes arrived after it.</summary>
    public sealed record UpgradeResponse(HttpResponseMessage Head, ReadOnlyMemory<byte> AlreadyRead)
    {
        /// <summary>101, or 200 with a raw stream from engines that hijack without the upgrade dance.</summary>
        public bool IsHijacked => Head.StatusCode is HttpStatusCode.SwitchingProtocols
            || (Head.StatusCode is HttpStatusCode.OK
                && Head.Content.Headers.ContentType?.MediaType is "application/vnd.docker.raw-stream" or "application/vnd.docker.multiplexed-stream");
    }

    public static async Task<UpgradeResponse> SendAsync(
        Stream connection, string hostHeader, HttpMethod method, Uri requestUri, ReadOnlyMemory<byte> jsonBody, CancellationToken cancellationToken)
    {
        var head = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"{method.Method} {requestUri.PathAndQuery} HTTP/1.1\r\n")
            .Append(CultureInfo.InvariantCulture, $"Host: {hostHeader}\r\n")
            .Append("User-Agent: session-mcp\r\n")
            .Append("Content-Type: application/json\r\n")
            .Append(CultureInfo.InvariantCulture, $"Content-Length: {jsonBody.Length}\r\n")
            .Append("Connection: Upgrade\r\n")
            .Append("Upgrade: tcp\r\n")
            .Append("\r\n")
            .ToString();
        var request = new byte[Encoding.ASCII.GetByteCount(head) + jsonBody.Length];
        var headLength = Encoding.ASCII.GetBytes(head, request);
        jsonBody.CopyTo(request.AsMemory(headLength));
        await connection.WriteAsync(request, cancellationToken).ConfigureAwait(false);

        var (responseHead, bodyStart) = await ReadHeadAsync(connection, cancellationToken).ConfigureAwait(false);
        var response = ParseHead(responseHead.Span);
        response.RequestMessage = new HttpRequestMessage(method, requestUri);
        var upgrade = new UpgradeResponse(response, bodyStart);
        if (!upgrade.IsHijacked)
        {
            // An error answer: read its (small) body so the error boundary can quote the engine's message.
            var body = await ReadBodyAsync(response, bodyStart, connection, cancellationToken).ConfigureAwait(false);
            var content = new ByteArrayContent(body);
            foreach (var header in response.Content.Headers)
            {
                content.Headers.TryAddWithoutValidation(header.Key, header.Value);
            }

            response.Content = content;
            upgrade = upgrade with { AlreadyRead = ReadOnlyMemory<byte>.Empty };
        }

        return upgrade;
    }

    private static async Task<(ReadOnlyMemory<byte> Head, ReadOnlyMemory<byte> Remainder)> ReadHeadAsync(Stream connection, CancellationToken cancellationToken)
    {
        var buffer = new byte[4096];
        var filled = 0;
        while (true)
        {
            var end = buffer.AsSpan(0, filled).IndexOf(HeadTerminator);
            if (end >= 0)
            {
                var headEnd = end + HeadTerminator.Length;
                return (buffer.AsMemory(0, end), buffer.AsMemory(headEnd, filled - headEnd));
            }

            if (filled == buffer.Length)
            {
                if (buffer.Length >= MaxHeadLength)
                {
                    throw new InvalidDataException($"Docker engine sent a response head longer than {MaxHeadLength} bytes.");
                }

                Array.Resize(ref buffer, buffer.Length * 2);
            }

            var read = await connection.ReadAsync(buffer.AsMemory(filled), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                throw new HttpRequestException(HttpRequestError.ResponseEnded, "Docker engine closed the connection before answering.");
            }

            filled += read;
        }
    }

    private static HttpResponseMessage ParseHead(ReadOnlySpan<byte> head)
    {
        var lines = Encoding.ASCII.GetString(head).Split("\r\n");
        // "HTTP/1.1 101 UPGRADED"
        var statusParts = lines[0].Split(' ', 3);
        if (statusParts.Length < 2 || !statusParts[0].StartsWith("HTTP/1.", StringComparison.Ordinal)
            || !int.TryParse(statusParts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var statusCode))
        {
            throw new InvalidDataException($"Docker engine sent an unexpected status line: '{lines[0]}'.");
        }

        var response = new HttpResponseMessage((HttpStatusCode)statusCode)
        {
            ReasonPhrase = statusParts.Length > 2 ? statusParts[2] : null,
            Content = new ByteArrayContent([]),
        };
        foreach (var line in lines.AsSpan(1))
        {
            var colon = line.IndexOf(':');
            if (colon <= 0)
            {
                continue;
            }

            var name = line[..colon].Trim();
            var value = line[(colon + 1)..].Trim();
            if (!response.Headers.TryAddWithoutValidation(name, value))
            {
                response.Content.Headers.TryAddWithoutValidation(name, value);
            }
        }

        return response;
    }

    private static async Task<byte[]> ReadBodyAsync(HttpResponseMessage head, ReadOnlyMemory<byte> alreadyRead, Stream connection, CancellationToken cancellationToken)
    {
        const int maxErrorBody = 64 * 1024;
        var body = new ArrayBufferWriter<byte>();
        body.Write(alreadyRead.Span);

        if (head.Content.Headers.ContentLength is { } contentLength)
        {
            var wanted = (int)Math.Min(contentLength, maxErrorBody);
            await ReadUntilAsync(body, connection, () => body.WrittenCount >= wanted, cancellationToken).ConfigureAwait(false);
            return body.WrittenSpan[..Math.Min(wanted, body.WrittenCount)].ToArray();
        }

        if (head.Headers.TransferEncodingChunked == true)
        {
            await ReadUntilAsync(body, connection, () => TryDecodeChunked(body.WrittenSpan, out _) || body.WrittenCount >= maxErrorBody, cancellationToken)
                .ConfigureAwait(false);
            return TryDecodeChunked(body.WrittenSpan, out var decoded) ? decoded : body.WrittenSpan.ToArray();
        }

        // Neither length nor chunking: the body runs to the end of the connection.
        await ReadUntilAsync(body, connection, () => body.WrittenCount >= maxErrorBody, cancellationToken).ConfigureAwait(false);
        return body.WrittenSpan.ToArray();
    }

    private static async Task ReadUntilAsync(ArrayBufferWriter<byte> body, Stream connection, Func<bool> done, CancellationToken cancellationToken)
    {
        while (!done())
        {
            var read = await connection.ReadAsync(body.GetMemory(4096), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return;
            }

            body.Advance(read);
        }
    }

    /// <summary>Decodes a complete chunked body; false while the terminating zero-length chunk has not arrived.</summary>
    internal static bool TryDecodeChunked(ReadOnlySpan<byte> encoded, out byte[] decoded)
    {
        var output = new ArrayBufferWriter<byte>();
        while (true)
        {
            var lineEnd = encoded.IndexOf("\r\n"u8);
            if (lineEnd < 0)
            {
                decoded = [];
                return false;
            }

            var sizeText = Encoding.ASCII.GetString(encoded[..lineEnd]).Split(';')[0].Trim();
            if (!int.TryParse(sizeText, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var size) || size < 0)
            {
                throw new InvalidDataException($"Docker engine sent a malformed chunk size '{sizeText}'.");
            }

            if (size == 0)
            {
                decoded = output.WrittenSpan.ToArray();
                return true;
            }

            var chunkStart = lineEnd + 2;
            if (encoded.Length < chunkStart + size + 2)
            {
                decoded = [];
                return false;
            }

            output.Write(encoded.Slice(chunkStart, size));
            encoded = encoded[(chunkStart + size + 2)..];
        }
    }
}
