using Pipeline.Storage;

namespace Pipeline.Serving.Storage;

/// <summary>A document read from the model store; <see cref="Unchanged"/> when it still has the ETag the caller knew.</summary>
public sealed record StoredFile(byte[] Content, string ETag, bool Unchanged = false);

/// <summary>A file in the model store, by its path relative to the store (<c>{model}/{version}/model.onnx</c>, <c>{model}/current.json</c>).</summary>
public sealed record StoredItem(string Path, DateTimeOffset LastModified);

/// <summary>
/// Where models live, in the layout of the storage contract (<c>{model}/current.json</c>, <c>{model}/{version}/…</c>):
/// the <c>models</c> blob container (<see cref="BlobModelStore"/>), or a local folder with the same layout
/// (<see cref="DirectoryModelStore"/>: models shipped with the package, a mounted share, benchmarks). Storage failures
/// surface as <see cref="Azure.RequestFailedException"/> from both, with the HTTP status a blob store would give.
/// </summary>
public interface IModelStore
{
    /// <summary>
    /// The file at <paramref name="path"/>, null when it does not exist, <see cref="StoredFile.Unchanged"/> when its ETag
    /// is still <paramref name="ifNoneMatch"/>. A file over <paramref name="maxBytes"/> is an <see cref="InvalidDataException"/>.
    /// </summary>
    Task<StoredFile?> ReadAsync(string path, string? ifNoneMatch, long maxBytes, CancellationToken cancellationToken);

    /// <summary>Every file under <paramref name="prefix"/> (all files when null).</summary>
    IAsyncEnumerable<StoredItem> ListAsync(string? prefix, CancellationToken cancellationToken);

    /// <summary>What <c>{model}/current.json</c> says now, with its ETag (<see cref="PointerState.None"/> when there is none).</summary>
    Task<PointerState> ReadPointerAsync(string model, CancellationToken cancellationToken);

    /// <summary>
    /// Points <paramref name="model"/> at <paramref name="version"/> only if the pointer is still <paramref name="expected"/>
    /// (<see cref="ModelPointer"/>'s rule): the pointer as written, or null when it was moved meanwhile.
    /// </summary>
    Task<PointerState?> TryMovePointerAsync(string model, string version, PointerState expected, DateTimeOffset now, CancellationToken cancellationToken);
}
