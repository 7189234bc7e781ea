using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Pipeline.Serving.Predict;
using Pipeline.Serving.Storage;
using Pipeline.Storage;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Serving.Predict;

/// <summary>The rollback's move of <c>current.json</c> over a models folder: <see cref="ModelPointer"/>'s rule, and a lost race read again.</summary>
public sealed class ModelCatalogTests : IDisposable
{
    private readonly TempDirectory _folder = new();

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    public void Dispose() => _folder.Dispose();

    private void Publish(string model, params string[] versions)
    {
        foreach (var version in versions)
        {
            Directory.CreateDirectory(Path.Combine(_folder.Path, model, version));
            File.WriteAllBytes(Path.Combine(_folder.Path, model, version, "model.onnx"), TestModels.TwoClass(bias: 0));
            File.WriteAllText(Path.Combine(_folder.Path, model, version, "manifest.json"), """{"features":["a","b"],"labels":["low","high"],"task":"classification"}""");
        }
    }

    [Fact]
    public async Task TryMovePointer_FromAStaleReading_IsRefused_AndFromTheCurrentOne_Moves()
    {
        var store = new DirectoryModelStore(_folder.Path);
        var none = await store.ReadPointerAsync("m", Cancellation);

        var first = await store.TryMovePointerAsync("m", "v1", none, DateTimeOffset.UnixEpoch, Cancellation);
        var again = await store.TryMovePointerAsync("m", "v2", none, DateTimeOffset.UnixEpoch, Cancellation);
        var read = await store.ReadPointerAsync("m", Cancellation);
        var second = await store.TryMovePointerAsync("m", "v2", read, DateTimeOffset.UnixEpoch, Cancellation);
        var stale = await store.TryMovePointerAsync("m", "v3", read, DateTimeOffset.UnixEpoch, Cancellation);

        Assert.Equal(PointerState.None, none);
        Assert.Equal("v1", first!.Current!.Version);
        Assert.Null(again);
        Assert.Equal(first.ETag, read.ETag);
        Assert.Equal("v2", second!.Current!.Version);
        Assert.Null(stale);
        Assert.Equal("v2", (await store.ReadPointerAsync("m", Cancellation)).Current!.Version);
        Assert.Empty(Directory.GetFiles(Path.Combine(_folder.Path, "m"), "*.tmp"));
    }

    [Fact]
    public async Task ReadPointer_NotAPointer_HasNoVersion_ButIsReplaceable()
    {
        var store = new DirectoryModelStore(_folder.Path);
        Directory.CreateDirectory(Path.Combine(_folder.Path, "m"));
        await File.WriteAllTextAsync(Path.Combine(_folder.Path, "m", "current.json"), "{\"version\":\"../../etc\"}", Cancellation);

        var read = await store.ReadPointerAsync("m", Cancellation);
        var moved = await store.TryMovePointerAsync("m", "v1", read, DateTimeOffset.UnixEpoch, Cancellation);

        Assert.Null(read.Current);
        Assert.NotNull(read.ETag);
        Assert.Equal("v1", moved!.Current!.Version);
    }

    [Fact]
    public async Task SetCurrent_PointerMovedBetweenItsReadAndItsWrite_ReadsAgain_AndReportsWhatItReplaced()
    {
        Publish("m", "v1", "v2", "v3");
        var folder = new DirectoryModelStore(_folder.Path);
        await folder.TryMovePointerAsync("m", "v1", PointerState.None, DateTimeOffset.UnixEpoch, Cancellation);
        var store = new InterloperStore(folder, "v3");
        using var registry = new ModelRegistry(store, Options.Create(new ModelOptions()), TimeProvider.System, NullLogger<ModelRegistry>.Instance);
        var catalog = new ModelCatalog(store, registry, TimeProvider.System);

        var (found, previous) = await catalog.SetCurrentAsync("m", "v2", Cancellation);

        Assert.True(found);
        Assert.Equal(2, store.PointerReads);
        Assert.Equal("v3", previous); // the interloper's move, not the v1 the first reading saw
        Assert.Equal("v2", (await folder.ReadPointerAsync("m", Cancellation)).Current!.Version);
    }

    [Fact]
    public async Task SetCurrent_PointerKeepsMoving_GivesUpWith412()
    {
        Publish("m", "v1", "v2", "v3");
        var folder = new DirectoryModelStore(_folder.Path);
        var store = new InterloperStore(folder, "v3", everyTime: true);
        using var registry = new ModelRegistry(store, Options.Create(new ModelOptions()), TimeProvider.System, NullLogger<ModelRegistry>.Instance);
        var catalog = new ModelCatalog(store, registry, TimeProvider.System);

        var failure = await Assert.ThrowsAsync<Azure.RequestFailedException>(() => catalog.SetCurrentAsync("m", "v2", Cancellation));

        Assert.Equal(412, failure.Status);
        Assert.Equal(ModelCatalog.MaxPointerRaces, store.PointerReads);
        Assert.Equal("v3", (await folder.ReadPointerAsync("m", Cancellation)).Current!.Version);
    }

    /// <summary>Moves the pointer to <paramref name="version"/> right after the caller has read it (once, or every time).</summary>
    private sealed class InterloperStore(IModelStore inner, string version, bool everyTime = false) : IModelStore
    {
        public int PointerReads { get; private set; }

        public Task<StoredFile?> ReadAsync(string path, string? ifNoneMatch, long maxBytes, CancellationToken cancellationToken) =>
            inner.ReadAsync(path, ifNoneMatch, maxBytes, cancellationToken);

        public IAsyncEnumerable<StoredItem> ListAsync(string? prefix, CancellationToken cancellationToken) => inner.ListAsync(prefix, cancellationToken);

        public async Task<PointerState> ReadPointerAsync(string model, CancellationToken cancellationToken)
        {
            var read = await inner.ReadPointerAsync(model, cancellationToken);
            if (++PointerReads == 1 || everyTime)
            {
                await Task.Delay(20, cancellationToken); // a distinct write time, so the folder's ETag changes
                Assert.NotNull(await inner.TryMovePointerAsync(model, version, read, DateTimeOffset.UnixEpoch, cancellationToken));
            }

            return read;
        }

        public Task<PointerState?> TryMovePointerAsync(string model, string versionToMove, PointerState expected, DateTimeOffset now, CancellationToken cancellationToken) =>
            inner.TryMovePointerAsync(model, versionToMove, expected, now, cancellationToken);
    }
}
