using System.Globalization;
using System.Runtime.CompilerServices;
using Azure;

namespace Pipeline.Serving.Storage;

/// <summary>
/// A local folder with the layout of the <c>models</c> container (<c>Models:Path</c>): models shipped inside the
/// deployment package, a mounted file share, or a benchmark's local disk. ETags are the file's write time and length;
/// writes go to a temporary file renamed over the target, so readers never see half a pointer.
/// </summary>
public sealed class DirectoryModelStore : IModelStore
{
    private readonly string _root;

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

    public async Task<string> WriteAsync(string path, ReadOnlyMemory<byte> content, string? ifMatch, CancellationToken cancellationToken)
    {
        var target = new FileInfo(FullPath(path));
        if (target.Exists ? ETagOf(target) != ifMatch : ifMatch is not null)
        {
            throw new RequestFailedException(412, $"{path} changed since it was read.");
        }

        Directory.CreateDirectory(target.DirectoryName!);
        var temporary = target.FullName + "." + Guid.NewGuid().ToString("N") + ".tmp";
        await File.WriteAllBytesAsync(temporary, content.ToArray(), cancellationToken).ConfigureAwait(false);
        File.Move(temporary, target.FullName, overwrite: true);
        target.Refresh();
        return ETagOf(target);
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
