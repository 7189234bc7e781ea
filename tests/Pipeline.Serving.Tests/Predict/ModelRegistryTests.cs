using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Pipeline.Serving.Predict;
using Pipeline.Serving.Storage;
using Pipeline.Storage;
using Pipeline.Tests.Infrastructure;

namespace Pipeline.Tests.Serving.Predict;

/// <summary>The registry over a models folder (no Azurite): what it loads, caches, refuses and remembers.</summary>
public sealed class ModelRegistryTests : IDisposable
{
    private readonly TempDirectory _folder = new();

    private static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    public void Dispose() => _folder.Dispose();

    private ModelRegistry CreateSut(ModelOptions? options = null, IModelStore? store = null) =>
        new(store ?? new DirectoryModelStore(_folder.Path), Options.Create(options ?? new ModelOptions()), TimeProvider.System, NullLogger<ModelRegistry>.Instance);

    private void Write(string path, byte[] content)
    {
        var full = Path.Combine(_folder.Path, path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllBytes(full, content);
    }

    private static byte[] Manifest(string json) => System.Text.Encoding.UTF8.GetBytes(json);

    [Fact]
    public async Task GetOrLoad_TrainerModelWithoutManifest_IsNotReady_AndNotCached()
    {
        using var registry = CreateSut();
        Write("m/v2/model.onnx", TestModels.TwoClass(bias: 0)); // the trainer wrote its model; manifest.json comes last

        var early = await Assert.ThrowsAsync<ModelUnavailableException>(() => registry.GetOrLoadAsync("m", "v2", Cancellation));
        Write("m/v2/manifest.json", Manifest("""{"features":["a","b"],"labels":["low","high"],"task":"classification"}"""));
        var model = await registry.GetOrLoadAsync("m", "v2", Cancellation);

        Assert.True(early.NotReady);
        Assert.Contains("not ready", early.Message, StringComparison.Ordinal);
        Assert.Equal("manifest", model!.Source);
        Assert.Equal(["low", "high"], model.Manifest.Labels);
    }

    [Fact]
    public async Task GetOrLoad_ForeignModelWithoutManifest_IsServedFromTheGraph()
    {
        using var registry = CreateSut();
        Write("byo/1/model.onnx", TestModels.LinearRegression([1, 2], bias: 0));

        var model = await registry.GetOrLoadAsync("byo", "1", Cancellation);

        Assert.Equal("onnx", model!.Source);
    }

    [Fact]
    public async Task GetOrLoad_MalformedManifest_IsACachedFailure()
    {
        var store = new CountingStore(new DirectoryModelStore(_folder.Path));
        using var registry = CreateSut(store: store);
        Write("m/v1/model.onnx", TestModels.TwoClass(bias: 0));
        Write("m/v1/manifest.json", Manifest("""{"features": [1, 2"""));

        for (var i = 0; i < 5; i++)
        {
            var e = await Assert.ThrowsAsync<ModelUnavailableException>(() => registry.GetOrLoadAsync("m", "v1", Cancellation));
            Assert.Contains("not a valid model manifest", e.Message, StringComparison.Ordinal);
        }

        Assert.Equal(1, store.Reads("m/v1/manifest.json"));
        Assert.Equal(0, store.Reads("m/v1/model.onnx"));
    }

    [Fact]
    public async Task GetOrLoad_HostileOnnx_IsRefusedBeforeOnnxRuntimeLoadsIt()
    {
        using var registry = CreateSut();
        Write("x/v1/model.onnx", HostileModels.ExternalData());

        var e = await Assert.ThrowsAsync<ModelUnavailableException>(() => registry.GetOrLoadAsync("x", "v1", Cancellation));

        Assert.Contains("external file", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("passwd", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetOrLoad_SlowSmokePrediction_DoesNotHoldUpLoadsOfOtherModels()
    {
        using var registry = CreateSut(new ModelOptions { SmokeTimeout = TimeSpan.FromSeconds(4) });
        // Until this change loads were serialized per stripe of model names (32 stripes): pick a name in the slow model's stripe.
        static int Stripe(string name) => (StringComparer.Ordinal.GetHashCode(name) & int.MaxValue) % 32;
        var fast = Enumerable.Range(0, 10_000).Select(i => $"fast{i}").First(n => Stripe(n) == Stripe("slow"));
        Write("slow/v1/model.onnx", HostileModels.Slow(multiplications: 2000));
        Write($"{fast}/v1/model.onnx", TestModels.LinearRegression([1, 2], bias: 0));

        var slowLoad = Task.Run(() => registry.GetOrLoadAsync("slow", "v1", Cancellation), Cancellation);
        await Task.Delay(500, Cancellation);
        var clock = Stopwatch.StartNew();
        var fastModel = await registry.GetOrLoadAsync(fast, "v1", Cancellation);
        var fastTook = clock.Elapsed;
        Assert.True(fastTook < TimeSpan.FromSeconds(2), $"loading {fast} waited {fastTook} for the slow model's load");
        var slowFailure = await Assert.ThrowsAsync<ModelUnavailableException>(() => slowLoad);

        Assert.NotNull(fastModel);
        Assert.Contains("did not finish within 4 s", slowFailure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Lease_NewCurrentVersionWithASlowSmokePrediction_DoesNotHoldUpOtherModels()
    {
        using var registry = CreateSut(new ModelOptions { SmokeTimeout = TimeSpan.FromSeconds(4), CurrentPollInterval = TimeSpan.FromMilliseconds(100) });
        // Until this change current.json checks were serialized per stripe of model names (32), loads included.
        static int Stripe(string name) => (StringComparer.Ordinal.GetHashCode(name) & int.MaxValue) % 32;
        var other = Enumerable.Range(0, 10_000).Select(i => $"other{i}").First(n => Stripe(n) == Stripe("busy"));
        PublishVersions("busy", 1);
        PublishVersions(other, 1);
        await LeaseAsync(registry, "busy", null);
        Write("busy/v2/model.onnx", HostileModels.Slow(multiplications: 2000));
        Write("busy/current.json", Manifest("""{"version":"v2"}"""));
        await Task.Delay(200, Cancellation);

        await LeaseAsync(registry, "busy", null); // still v1; the switch to v2 is checked in the background
        await Task.Delay(500, Cancellation);
        var clock = Stopwatch.StartNew();
        await LeaseAsync(registry, other, null);
        var took = clock.Elapsed;

        Assert.True(took < TimeSpan.FromSeconds(2), $"the first request for {other} waited {took} for busy's new version to load");
    }

    [Fact]
    public async Task GetOrLoad_ConcurrentRequestsForOneVersion_ShareOneLoad()
    {
        var store = new CountingStore(new DirectoryModelStore(_folder.Path));
        using var registry = CreateSut(store: store);
        Write("m/v1/model.onnx", TestModels.TwoClass(bias: 0, hidden: 200));
        Write("m/v1/manifest.json", Manifest("""{"features":["a","b"],"labels":["low","high"],"task":"classification"}"""));

        var models = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => registry.GetOrLoadAsync("m", "v1", Cancellation), Cancellation)));

        Assert.All(models, m => Assert.Same(models[0], m));
        Assert.Equal(1, store.Reads("m/v1/model.onnx"));
    }

    private void PublishVersions(string model, int count, int hidden = 0)
    {
        for (var v = 1; v <= count; v++)
        {
            Write($"{model}/v{v}/model.onnx", TestModels.TwoClass(bias: 0, hidden: hidden));
            Write($"{model}/v{v}/manifest.json", Manifest("""{"features":["a","b"],"labels":["low","high"],"task":"classification"}"""));
        }

        Write($"{model}/current.json", Manifest("""{"version":"v1"}"""));
    }

    private static async Task LeaseAsync(ModelRegistry registry, string model, string? version)
    {
        var lease = await registry.LeaseAsync(model, version, Cancellation);
        Assert.NotNull(lease);
        lease.Release();
    }

    [Fact]
    public async Task Cache_PinnedRequestsForOtherVersions_NeverUnloadTheCurrentOne()
    {
        // Each file is ~360 KB; a 1 MB budget holds two.
        using var registry = CreateSut(new ModelOptions { CacheMemoryBytes = 1024 * 1024, ColdLoadsPerMinute = 1000 });
        PublishVersions("m", 5, hidden: 300);

        await LeaseAsync(registry, "m", null); // serves v1, the current version
        foreach (var version in new[] { "v2", "v3", "v4", "v5", "v2" })
        {
            await LeaseAsync(registry, "m", version);
        }

        Assert.NotNull(registry.Peek("m", "v1"));
        Assert.False(registry.Peek("m", "v1")!.IsDisposed);
        Assert.Equal(2, registry.CacheUsage.Count);
    }

    [Fact]
    public async Task Lease_ColdLoadsOfOtherVersionsPastTheRate_Return429WithRetryAfter_CurrentStillServed()
    {
        using var registry = CreateSut(new ModelOptions { ColdLoadsPerMinute = 2 });
        PublishVersions("m", 4);

        await LeaseAsync(registry, "m", "v2");
        await LeaseAsync(registry, "m", "v3");
        var refused = await Assert.ThrowsAsync<LoadLimitException>(() => registry.LeaseAsync("m", "v4", Cancellation));
        await LeaseAsync(registry, "m", "v2"); // loaded: not a cold load
        await LeaseAsync(registry, "m", null); // the current version is never limited
        await LeaseAsync(registry, "m", "v1");

        Assert.Equal(429, refused.Status);
        Assert.InRange(refused.RetryAfter, TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(31));
        Assert.Contains("Models:ColdLoadsPerMinute", refused.Message, StringComparison.Ordinal);
        Assert.Null(registry.Peek("m", "v4"));
    }

    [Fact]
    public async Task Lease_ColdLoadsOfOtherVersionsPastTheConcurrency_Return503()
    {
        using var registry = CreateSut(new ModelOptions { ColdLoadConcurrency = 1, SmokeTimeout = TimeSpan.FromSeconds(3) });
        PublishVersions("m", 3);
        Write("m/slow/model.onnx", HostileModels.Slow(multiplications: 2000));

        var slow = Task.Run(() => registry.LeaseAsync("m", "slow", Cancellation), Cancellation);
        await Task.Delay(500, Cancellation);
        var refused = await Assert.ThrowsAsync<LoadLimitException>(() => registry.LeaseAsync("m", "v2", Cancellation));
        await LeaseAsync(registry, "m", null);
        await Assert.ThrowsAsync<ModelUnavailableException>(() => slow);
        await LeaseAsync(registry, "m", "v2"); // the slot is free again

        Assert.Equal(503, refused.Status);
        Assert.Contains("Models:ColdLoadConcurrency", refused.Message, StringComparison.Ordinal);
    }

    /// <summary>Counts reads per path.</summary>
    private sealed class CountingStore(IModelStore inner) : IModelStore
    {
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> _reads = new(StringComparer.Ordinal);

        public int Reads(string path) => _reads.GetValueOrDefault(path);

        public Task<StoredFile?> ReadAsync(string path, string? ifNoneMatch, long maxBytes, CancellationToken cancellationToken)
        {
            _reads.AddOrUpdate(path, 1, (_, n) => n + 1);
            return inner.ReadAsync(path, ifNoneMatch, maxBytes, cancellationToken);
        }

        public IAsyncEnumerable<StoredItem> ListAsync(string? prefix, CancellationToken cancellationToken) => inner.ListAsync(prefix, cancellationToken);

        public Task<PointerState> ReadPointerAsync(string model, CancellationToken cancellationToken) => inner.ReadPointerAsync(model, cancellationToken);

        public Task<PointerState?> TryMovePointerAsync(string model, string version, PointerState expected, DateTimeOffset now, CancellationToken cancellationToken) =>
            inner.TryMovePointerAsync(model, version, expected, now, cancellationToken);
    }
}
