namespace Pipeline.Infra.Tests;

/// <summary>
/// The functions app's bindings (its generated <c>functions.metadata</c>) against the Bicep: every connection a binding
/// names has its identity-based settings on the app, and every queue a binding names, with its poison queue, is created.
/// </summary>
public sealed class BindingTests(CompiledTemplate template)
{
    private static IReadOnlyList<JsonElement> Bindings()
    {
        var configuration = Path.GetFileName(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory));
        var metadata = Path.Combine(RepositoryPaths.Root, "artifacts", "bin", "Pipeline.Functions", configuration, "functions.metadata");
        Assert.True(File.Exists(metadata), $"{metadata} is missing: build the functions app (the solution build does).");
        using var document = JsonDocument.Parse(File.ReadAllText(metadata));
        return [.. document.RootElement.EnumerateArray().SelectMany(f => f.GetProperty("bindings").EnumerateArray()).Select(b => b.Clone())];
    }

    private Dictionary<string, string> AppSettings =>
        template.SingleOf("Microsoft.Web/sites", "functions").Properties.At("siteConfig", "appSettings").EnumerateArray()
            .ToDictionary(setting => setting.StringAt("name"), setting => setting.StringAt("value"), StringComparer.OrdinalIgnoreCase);

    [Fact]
    public void Bindings_EveryConnection_HasIdentityBasedSettingsOnTheFunctionsApp()
    {
        var settings = AppSettings;
        var connections = Bindings().Where(b => b.TryGetProperty("connection", out _)).Select(b => b.GetProperty("connection").GetString()!).Distinct().ToList();

        Assert.NotEmpty(connections);
        foreach (var connection in connections)
        {
            Assert.True(settings.ContainsKey($"{connection}__queueServiceUri"), $"{connection}__queueServiceUri is not set");
            Assert.Equal("managedidentity", settings[$"{connection}__credential"]);
            Assert.True(settings.ContainsKey($"{connection}__clientId"), $"{connection}__clientId is not set");
            Assert.False(settings.ContainsKey(connection), $"{connection} must not be a connection string");
        }
    }

    [Fact]
    public void Bindings_EveryQueue_AndItsPoisonQueue_IsCreated()
    {
        var created = template.Module("storage").ParameterValue("queueNames");
        var queues = Bindings().Where(b => b.TryGetProperty("queueName", out _)).Select(b => b.GetProperty("queueName").GetString()!).ToList();

        Assert.Contains("blob-created", queues);
        Assert.Contains("train-requests", queues);
        foreach (var queue in queues)
        {
            Assert.Contains($"\"{queue}\"", created, StringComparison.Ordinal);
            Assert.Contains($"\"{queue}-poison\"", created, StringComparison.Ordinal);
        }
    }
}
