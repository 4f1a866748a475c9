using System.Net.Sockets;

namespace SessionMcp.Containers.Local.Native;

/// <summary>
/// This process's end of a pipe to a child, read and written asynchronously on the runtime's epoll loop, so that no
/// thread blocks on it (a blocking read would cost a dedicated thread per stream and command).
/// </summary>
/// <remarks>
/// The child keeps a real pipe rather than a socketpair: a program may open <c>/dev/stdout</c> or <c>/dev/stderr</c>
/// (<c>echo x &gt; /dev/stderr</c>, <c>tee /dev/stderr</c>), which works on a pipe and fails with ENXIO on a socket.
/// Only this end is wrapped in a <see cref="Socket"/>: .NET accepts a descriptor that is not a socket and then uses
/// read/write on it instead of recv/send, with the same epoll-driven async operations. O_NONBLOCK, set on the first
/// async operation, applies to this end's open file description only; the child's end stays blocking.
/// </remarks>
internal sealed class PipeEnd : IDisposable
{
    private readonly Socket _socket;

    /// <summary>Takes ownership of <paramref name="fd"/>; it is closed on dispose (or here, if wrapping fails).</summary>
    public PipeEnd(int fd)
    {
        var handle = new SafeSocketHandle(fd, ownsHandle: true);
        try
        {
            _socket = new Socket(handle);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Reads what is available (at least one byte), or 0 at end of file.</summary>
    /// <exception cref="IOException">The read failed.</exception>
    public async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        try
        {
            return await _socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException error)
        {
            throw new IOException($"Reading a pipe failed: {error.Message}", error);
        }
    }

    /// <summary>Writes all of <paramref name="bytes"/>, waiting (without a thread) while the pipe is full.</summary>
    /// <exception cref="IOException">The write failed, e.g. EPIPE when the reader has gone.</exception>
    public async ValueTask WriteAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        try
        {
            while (!bytes.IsEmpty)
            {
                var written = await _socket.SendAsync(bytes, SocketFlags.None, cancellationToken).ConfigureAwait(false);
                bytes = bytes[written..];
            }
        }
        catch (SocketException error)
        {
            throw new IOException($"Writing a pipe failed: {error.Message}", error);
        }
    }

    /// <summary>Closes the descriptor; pending operations end with an exception.</summary>
    public void Dispose() => _socket.Dispose();
}
