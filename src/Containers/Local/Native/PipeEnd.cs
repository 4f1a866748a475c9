using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace SessionMcp.Containers.Local.Native;

/// <summary>
/// This process's end of a pipe to a child (or a pseudo-terminal's master, see <see cref="PtyProcess"/>), read and
/// written asynchronously on the runtime's epoll loop, so that no thread blocks on it (a blocking read would cost a
/// dedicated thread per stream and command).
/// </summary>
/// <remarks>
/// The child keeps a real pipe rather than a socketpair: a program may open <c>/dev/stdout</c> or <c>/dev/stderr</c>
/// (<c>echo x &gt; /dev/stderr</c>, <c>tee /dev/stderr</c>), which works on a pipe and fails with ENXIO on a socket.
/// Only this end is wrapped in a <see cref="Socket"/>: .NET accepts a descriptor that is not a socket and then uses
/// read/write on it instead of recv/send, with the same epoll-driven async operations. O_NONBLOCK applies to this
/// end's open file description only; the child's end stays blocking.
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
            // Non-blocking, so that TryRead returns at once; async operations wait on epoll either way.
            _socket = new Socket(handle) { Blocking = false };
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>The descriptor, for ioctls on a terminal's master; add a reference while using it.</summary>
    public SafeHandle Handle => _socket.SafeHandle;

    /// <summary>
    /// What <c>/proc/PID/fd/N</c> shows for this descriptor, e.g. <c>pipe:[123]</c>: a child's end of the same pipe
    /// shows the same, which is how <see cref="InputWaitProbe"/> recognises a process reading this pipe.
    /// </summary>
    public string FileLink
    {
        get
        {
            var added = false;
            Handle.DangerousAddRef(ref added);
            try
            {
                var fd = (int)Handle.DangerousGetHandle();
                return new FileInfo($"/proc/self/fd/{fd.ToString(System.Globalization.CultureInfo.InvariantCulture)}").LinkTarget ?? "";
            }
            finally
            {
                if (added)
                {
                    Handle.DangerousRelease();
                }
            }
        }
    }

    /// <summary>Reads what is available (at least one byte), or 0 at end of file. When cancelled, nothing was read.</summary>
    /// <exception cref="IOException">The read failed.</exception>
    public async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        try
        {
            return await _socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException error) when (error.SocketErrorCode == SocketError.OperationAborted && cancellationToken.IsCancellationRequested)
        {
            // A cancelled read has consumed nothing.
            throw new OperationCanceledException(cancellationToken);
        }
        catch (SocketException error)
        {
            throw new IOException($"Reading a pipe failed: {error.Message}", error);
        }
    }

    /// <summary>
    /// Reads what is in the pipe right now without waiting: true with the count (0 at end of file), or false when the
    /// pipe is empty. Must not overlap a pending <see cref="ReadAsync"/>.
    /// </summary>
    /// <exception cref="IOException">The read failed.</exception>
    public bool TryRead(Span<byte> buffer, out int read)
    {
        read = _socket.Receive(buffer, SocketFlags.None, out var error);
        return error switch
        {
            SocketError.Success => true,
            SocketError.WouldBlock => false,
            _ => throw new IOException($"Reading a pipe failed: {error}."),
        };
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
