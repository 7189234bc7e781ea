namespace Pipeline.Tests.Infrastructure;

/// <summary>
/// A serving app against Azurite with one published two-class model (version v1), and a client holding the function
/// key: the setup the predict-path test classes share.
/// </summary>
public abstract class ServedModelTest(string modelPrefix, IReadOnlyDictionary<string, string?>? settings = null) : IAsyncLifetime
{
    protected string Model { get; } = Azurite.UniqueName(modelPrefix);

    protected ServingAppFactory App { get; private set; } = new(settings);

    protected HttpClient Client { get; private set; } = null!;

    protected static CancellationToken Cancellation => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        await Azurite.EnsureRunningAsync();
        Client = App.CreateClient();
        await TestModels.PublishAsync(Model, "v1", TestModels.TwoClass(bias: 0));
    }

    /// <summary>Starts the app again with other settings (the published models stay).</summary>
    protected async Task RestartAsync(IReadOnlyDictionary<string, string?> newSettings)
    {
        Client.Dispose();
        await App.DisposeAsync();
        App = new ServingAppFactory(newSettings);
        Client = App.CreateClient();
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.DisposeAsync();
        GC.SuppressFinalize(this);
    }
}
