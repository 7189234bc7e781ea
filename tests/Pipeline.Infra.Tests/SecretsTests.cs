namespace Pipeline.Infra.Tests;

public sealed class SecretsTests(CompiledTemplate template)
{
    private static readonly string[] KeyFunctions =
        ["listKeys", "listConnectionStrings", "listAccountSas", "listServiceSas", "listCredentials", "listSecrets"];

    private static readonly string[] CredentialMarkers =
        ["AccountKey=", "SharedAccessSignature", "SharedAccessKey", "DefaultEndpointsProtocol=", "sig="];

    [Fact]
    public void Template_Anywhere_NeverReadsKeys()
    {
        foreach (var function in KeyFunctions)
        {
            Assert.DoesNotContain(function, template.Json, StringComparison.OrdinalIgnoreCase);
        }

        foreach (var marker in CredentialMarkers)
        {
            Assert.DoesNotContain(marker, template.Json, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public void FunctionApp_AppSettings_HoldNoConnectionStringsOrKeys()
    {
        var settings = template.OfType("Microsoft.Web/sites").SelectMany(site => site.Properties.At("siteConfig", "appSettings").EnumerateArray())
            .Select(setting => (Name: setting.StringAt("name"), Value: setting.StringAt("value")))
            .ToList();

        foreach (var (name, value) in settings)
        {
            // The Application Insights connection string is the one exception: it names the ingestion endpoint and an
            // instrumentation key (an identifier, not a credential); the component rejects it without an Entra token
            // (DisableLocalAuth, checked in MonitoringTests).
            if (name != "APPLICATIONINSIGHTS_CONNECTION_STRING")
            {
                Assert.DoesNotContain("ConnectionString", name, StringComparison.OrdinalIgnoreCase);
                Assert.DoesNotContain("connectionString", value, StringComparison.OrdinalIgnoreCase);
            }

            Assert.NotEqual("AzureWebJobsStorage", name);
            Assert.DoesNotContain("Key", name, StringComparison.Ordinal);
            Assert.DoesNotContain("Secret", name, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("Password", name, StringComparison.OrdinalIgnoreCase);
        }

        Assert.Contains(settings, setting => setting.Name == "APPLICATIONINSIGHTS_AUTHENTICATION_STRING");
    }

    [Fact]
    public void Outputs_All_CarryNoSecrets()
    {
        foreach (var resource in template.OfType("Microsoft.Resources/deployments").Select(module => module.Properties.At("template"))
                     .Prepend(template.Root))
        {
            if (!resource.TryGetProperty("outputs", out var outputs))
            {
                continue;
            }

            foreach (var output in outputs.EnumerateObject())
            {
                var type = output.Value.StringAt("type");
                Assert.False(type.StartsWith("secure", StringComparison.OrdinalIgnoreCase), $"Output {output.Name} is {type}.");
                Assert.DoesNotContain("key", output.Name, StringComparison.OrdinalIgnoreCase);
                Assert.DoesNotContain("secret", output.Name, StringComparison.OrdinalIgnoreCase);
                Assert.DoesNotContain("password", output.Name, StringComparison.OrdinalIgnoreCase);
            }
        }

        // Only the monitor module may pass the Application Insights connection string (to the function app); the
        // deployment's own outputs, which azd stores in .azure/<env>/.env, carry none.
        foreach (var output in template.Root.At("outputs").EnumerateObject())
        {
            Assert.DoesNotContain("ConnectionString", output.Name, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("connectionString", output.Value.StringAt("value"), StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public void Jobs_Configuration_DefinesNoSecrets()
    {
        foreach (var job in template.OfType("Microsoft.App/jobs"))
        {
            var configuration = job.Properties.At("configuration");
            Assert.False(configuration.TryGetProperty("secrets", out _));
            foreach (var registry in configuration.At("registries").EnumerateArray())
            {
                Assert.False(registry.TryGetProperty("passwordSecretRef", out _));
                Assert.False(registry.TryGetProperty("username", out _));
            }
        }
    }

    [Fact]
    public void ContainerRegistry_AdminUser_IsDisabled()
    {
        var registry = template.SingleOf("Microsoft.ContainerRegistry/registries");
        Assert.False(registry.Properties.At("adminUserEnabled").GetBoolean());
    }
}
