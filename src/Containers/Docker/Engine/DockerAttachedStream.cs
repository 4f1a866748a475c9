using System.Net.Sockets;

namespace SessionMcp.Containers.Docker.Engine;

/// <summary>
/// A hijacked engine connection to a running exec: raw bytes out to the process's stdin, multiplexed frames in.
/// Owns the socket, which is what allows half-closing stdin while still reading output.
/// One reader and one writer may use it concurrently.
/// </summary>
internal sealed class DockerAttachedStream : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _network;
    private readonly DockerStreamDemultiplexer? _demultiplexer;
    private readonly Stream? _raw;
    private int _disposed;

    /// <param name="alreadyRead">Output bytes that arrived together with the HTTP response head.</param>
    /// <param name="raw">A TTY exec: the output is the terminal's bytes, not multiplexed frames.</param>
    internal DockerAttachedStream(Socket socket, NetworkStream network, ReadOnlyMemory<byte> alreadyRead, bool raw = false)
    {
        _socket = socket;
        _network = network;
        var output = new PrefixedReadStream(alreadyRead, network);
        if (raw)
        {
            _raw = output;
        }
        else
        {
            _demultiplexer = new DockerStreamDemultiplexer(output);
        }
    }

    /// <summary>Sends bytes to the process's stdin.</summary>
    public ValueTask WriteAsync(ReadOnlyMemory<byte> stdin, CancellationToken cancellationToken = default) =>
        _network.WriteAsync(stdin, cancellationToken);

    /// <summary>Half-closes the connection: the process sees end of input, its output keeps flowing.</summary>
    public ValueTask CloseStdinAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        _socket.Shutdown(SocketShutdown.Send);
        return ValueTask.CompletedTask;
    }

    /// <summary>The next frame of output; null once the process has closed its output (usually: exited).</summary>
    public ValueTask<DockerFrame?> ReadFrameAsync(CancellationToken cancellationToken = default) =>
        _demultiplexer?.ReadFrameAsync(cancellationToken) ?? ReadRawFrameAsync(cancellationToken);

    private async ValueTask<DockerFrame?> ReadRawFrameAsync(CancellationToken cancellationToken)
    {
        var buffer = new byte[16 * 1024];
        var read = await _raw!.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        return read == 0 ? null : new DockerFrame(DockerStreamKind.Stdout, buffer.AsMemory(0, read));
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _network.DisposeAsync().ConfigureAwait(false);
        _socket.Dispose();
    }

    /// <summary>Replays bytes already buffered while reading the response head, then reads the connection.</summary>
    private sealed class PrefixedReadStream(ReadOnlyMemory<byte> prefix, Stream inner) : Stream
    {
        private ReadOnlyMemory<byte> _prefix = prefix;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_prefix.IsEmpty)
            {
                return await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            }

            var count = Math.Min(buffer.Length, _prefix.Length);
            _prefix[..count].CopyTo(buffer);
            _prefix = _prefix[count..];
            return count;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) =>
            throw new NotSupportedException("Read the attached stream asynchronously.");

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
