using System.Globalization;
using System.Runtime.CompilerServices;
using Azure;
using Pipeline.Contracts;
using Pipeline.Storage;

namespace Pipeline.Serving.Storage;

/// <summary>
/// A local folder with the layout of the <c>models</c> container (<c>Models:Path</c>): models shipped inside the
/// deployment package, a mounted file share, or a benchmark's local disk. ETags are the file's write time and length;
/// writes go to a temporary file renamed over the target, so readers never see half a pointer.
/// </summary>
public sealed class DirectoryModelStore : IModelStore
{
    private readonly string _root;
    private readonly Lock _pointerLock = new();

    public DirectoryModelStore(string root)
    {
        _root = Path.GetFullPath(root);
        Directory.CreateDirectory(_root);
    }

    public async Task<StoredFile?> ReadAsync(string path, string? ifNoneMatch, long maxBytes, CancellationToken cancellationToken)
    {
        var file = new FileInfo(FullPath(path));
        if (!file.Exists)
        {
            return null;
        }

        var etag = ETagOf(file);
        if (etag == ifNoneMatch)
        {
            return new StoredFile([], etag, Unchanged: true);
        }

        if (file.Length > maxBytes)
        {
            throw new InvalidDataException($"{path} is {file.Length} bytes; the limit is {maxBytes}.");
        }

        try
        {
            return new StoredFile(await File.ReadAllBytesAsync(file.FullName, cancellationToken).ConfigureAwait(false), etag);
        }
        catch (FileNotFoundException)
        {
            return null; // replaced or removed between the check and the read
        }
    }

    public async IAsyncEnumerable<StoredItem> ListAsync(string? prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await Task.CompletedTask.ConfigureAwait(false);
        foreach (var file in Directory.EnumerateFiles(_root, "*", SearchOption.AllDirectories))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var relative = Path.GetRelativePath(_root, file).Replace(Path.DirectorySeparatorChar, '/');
            if ((prefix is null || relative.StartsWith(prefix, StringComparison.Ordinal)) && !relative.EndsWith(".tmp", StringComparison.Ordinal))
            {
                yield return new StoredItem(relative, File.GetLastWriteTimeUtc(file));
            }
        }
    }

    public async Task<PointerState> ReadPointerAsync(string model, CancellationToken cancellationToken)
    {
        var file = await ReadAsync(StorageNames.CurrentPointerPath(model), null, ModelPointer.MaxDocumentBytes, cancellationToken).ConfigureAwait(false);
        return file is null ? PointerState.None : new PointerState(ModelPointer.Parse(file.Content), new ETag(file.ETag));
    }

    /// <summary>
    /// <see cref="ModelPointer"/>'s rule on a folder: the check and the rename are one step under a process-wide lock,
    /// which is as far as a local folder goes (several processes writing one folder's pointer are not supported).
    /// </summary>
    public async Task<PointerState?> TryMovePointerAsync(string model, string version, PointerState expected, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(expected);
        var target = new FileInfo(FullPath(StorageNames.CurrentPointerPath(model)));
        var temporary = target.FullName + "." + Guid.NewGuid().ToString("N") + ".tmp";
        Directory.CreateDirectory(target.DirectoryName!);
        await File.WriteAllBytesAsync(temporary, ModelPointer.Serialize(version, now), cancellationToken).ConfigureAwait(false);
        lock (_pointerLock)
        {
            target.Refresh();
            if (target.Exists ? expected.ETag?.ToString() != ETagOf(target) : expected.ETag is not null)
            {
                File.Delete(temporary);
                return null;
            }

            File.Move(temporary, target.FullName, overwrite: true);
            target.Refresh();
            return new PointerState(new CurrentPointer { Version = version, UpdatedAt = now }, new ETag(ETagOf(target)));
        }
    }

    private string FullPath(string path)
    {
        var full = Path.GetFullPath(Path.Combine(_root, path));
        return full.StartsWith(_root + Path.DirectorySeparatorChar, StringComparison.Ordinal)
            ? full
            : throw new InvalidDataException("The path leaves the models folder.");
    }

    private static string ETagOf(FileInfo file) =>
        string.Create(CultureInfo.InvariantCulture, $"\"{file.LastWriteTimeUtc.Ticks:x}-{file.Length:x}\"");
}
