using System.Net.Sockets;

namespace SessionMcp.McpServer.Daemon;

/// <summary>
/// A connected socket as a stream of plain blocking reads and writes, also behind the async methods — what the stdio
/// transport does with stdin (a read blocked on a pool thread). A message then wakes the thread that waits for it and
/// nothing else, where <see cref="NetworkStream"/>'s async reads complete on .NET's socket event thread and hand over to
/// the pool: one more thread wake-up per message, which on a loaded machine costs more than the rest of the transport
/// (docs/benchmarks.md, "Daemon"). The price is one pool thread per connection, blocked while its client is idle.
/// </summary>
/// <remarks>
/// No asynchronous socket call may ever be made on the socket: .NET would make it non-blocking for good, and these
/// "blocking" calls would then wait through the event thread after all.
/// </remarks>
internal sealed class BlockingSocketStream(Socket socket) : Stream
{
    private int _disposed;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        try
        {
            return socket.Receive(buffer, SocketFlags.None);
        }
        catch (SocketException e)
        {
            throw new IOException(e.Message, e);
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Task.FromResult(Read(buffer.AsSpan(offset, count)));

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(buffer.Span));

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        try
        {
            while (!buffer.IsEmpty)
            {
                buffer = buffer[socket.Send(buffer, SocketFlags.None)..];
            }
        }
        catch (SocketException e)
        {
            throw new IOException(e.Message, e);
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        Write(buffer.AsSpan(offset, count));
        return Task.CompletedTask;
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Write(buffer.Span);
        return ValueTask.CompletedTask;
    }

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            try
            {
                // Wakes a read blocked in recv(2), which closing the descriptor alone does not.
                socket.Shutdown(SocketShutdown.Both);
            }
            catch (SocketException)
            {
                // Already disconnected.
            }
            socket.Dispose();
        }
        base.Dispose(disposing);
    }
}
