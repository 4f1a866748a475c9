using System.Runtime.InteropServices;
using System.Text;

namespace SessionMcp.Containers.Local.Native;

/// <summary>
/// A NULL-terminated array of NUL-terminated UTF-8 strings (argv, envp) in one native allocation.
/// </summary>
internal sealed unsafe class NativeStringArray : IDisposable
{
    private void* _block;

    public NativeStringArray(IReadOnlyList<string> strings)
    {
        var pointersBytes = (nuint)(strings.Count + 1) * (nuint)sizeof(byte*);
        nuint textBytes = 0;
        foreach (var text in strings)
        {
            if (text.Contains('\0', StringComparison.Ordinal))
            {
                throw new ArgumentException("Arguments and environment entries cannot contain NUL characters.", nameof(strings));
            }

            textBytes += (nuint)Encoding.UTF8.GetByteCount(text) + 1;
        }

        _block = NativeMemory.Alloc(pointersBytes + textBytes);
        var pointers = (byte**)_block;
        var cursor = (byte*)_block + pointersBytes;
        var end = cursor + textBytes;
        for (var i = 0; i < strings.Count; i++)
        {
            pointers[i] = cursor;
            var written = Encoding.UTF8.GetBytes(strings[i], new Span<byte>(cursor, (int)(end - cursor)));
            cursor[written] = 0;
            cursor += written + 1;
        }

        pointers[strings.Count] = null;
    }

    public byte** Pointers => (byte**)_block;

    public void Dispose()
    {
        NativeMemory.Free(_block);
        _block = null;
    }
}
