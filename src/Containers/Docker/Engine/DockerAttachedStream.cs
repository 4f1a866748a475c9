using System.Runtime.InteropServices;
using System.Text;
using Docker.DotNet;

namespace SessionMcp.Containers.Docker.Engine;

/// <summary>Which standard stream a frame belongs to.</summary>
internal enum DockerStreamKind : byte
{
    Stdin = 0,
    Stdout = 1,
    Stderr = 2,
}

/// <summary>A piece of one stream's output. The payload is owned by the frame.</summary>
internal sealed record DockerFrame(DockerStreamKind Stream, ReadOnlyMemory<byte> Payload);

/// <summary>
/// A hijacked engine connection to a running exec (the library's <see cref="MultiplexedStream"/>): raw bytes out to the
/// process's stdin, output in as pieces of stdout or stderr. One reader and one writer may use it concurrently.
/// </summary>
internal sealed class DockerAttachedStream : IAsyncDisposable
{
    private const int ReadSize = 16 * 1024;

    private readonly MultiplexedStream _stream;
    private readonly string _endpoint;
    private readonly byte[] _buffer = new byte[ReadSize];
    private int _disposed;

    internal DockerAttachedStream(MultiplexedStream stream, string endpoint)
    {
        _stream = stream;
        _endpoint = endpoint;
    }

    /// <summary>Sends bytes to the process's stdin.</summary>
    public async ValueTask WriteAsync(ReadOnlyMemory<byte> stdin, CancellationToken cancellationToken = default)
    {
        var segment = MemoryMarshal.TryGetArray(stdin, out var array) ? array : new ArraySegment<byte>(stdin.ToArray());
        await _stream.WriteAsync(segment.Array!, segment.Offset, segment.Count, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Half-closes the connection: the process sees end of input, its output keeps flowing.</summary>
    public ValueTask CloseStdinAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        _stream.CloseWrite();
        return ValueTask.CompletedTask;
    }

    /// <summary>The next piece of output; null once the process has closed its output (usually: exited).</summary>
    /// <exception cref="IOException">The connection broke, or carried something that is not the engine's stream.</exception>
    public async ValueTask<DockerFrame?> ReadFrameAsync(CancellationToken cancellationToken = default)
    {
        var result = await _stream.ReadOutputAsync(_buffer, 0, _buffer.Length, cancellationToken).ConfigureAwait(false);
        if (result.EOF)
        {
            return null;
        }

        return new DockerFrame((DockerStreamKind)result.Target, _buffer.AsSpan(0, result.Count).ToArray());
    }

    /// <summary>Reads stdout and stderr to the end.</summary>
    public async Task<(string Stdout, string Stderr)> ReadToEndAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await _stream.ReadOutputToEndAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e) when (e is not EndOfStreamException)
        {
            throw new DockerEngineException($"Docker engine at {_endpoint} broke off an exec's output: {e.Message}", innerException: e);
        }
    }

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _stream.Dispose();
        }

        return ValueTask.CompletedTask;
    }
}
