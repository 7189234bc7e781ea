namespace Pipeline.Infra.Tests;

/// <summary>
/// App Service Authentication on the serving app (authsettingsV2): Entra ID sign-in for the web console when an app
/// registration is given, with the HTTP API (<c>/api/*</c>) excluded so its clients keep using function keys.
/// </summary>
public sealed class ConsoleSignInTests(CompiledTemplate template)
{
    private TemplateResource SignIn => template.SingleOf("Microsoft.Web/sites/config", "serving");

    [Fact]
    public void ServingApp_SignIn_RequiresEntraIdOutsideTheApi()
    {
        var settings = SignIn.Properties;

        Assert.Contains("'authsettingsV2'", SignIn.Element.StringAt("name"), StringComparison.Ordinal);
        Assert.True(settings.At("platform", "enabled").GetBoolean());
        Assert.True(settings.At("globalValidation", "requireAuthentication").GetBoolean());
        Assert.Equal("RedirectToLoginPage", settings.StringAt("globalValidation", "unauthenticatedClientAction"));
        Assert.Equal("azureactivedirectory", settings.StringAt("globalValidation", "redirectToProvider"));
        Assert.Equal("[parameters('signInExcludedPaths')]", settings.StringAt("globalValidation", "excludedPaths"));
        Assert.Equal("""["/api/*"]""", template.Module("serving").ParameterValue("signInExcludedPaths").Replace(" ", "", StringComparison.Ordinal).Replace("\n", "", StringComparison.Ordinal).Replace("\r", "", StringComparison.Ordinal));
        Assert.True(settings.At("identityProviders", "azureActiveDirectory", "enabled").GetBoolean());
        Assert.Equal("[parameters('signInClientId')]", settings.StringAt("identityProviders", "azureActiveDirectory", "registration", "clientId"));
        Assert.True(settings.At("httpSettings", "requireHttps").GetBoolean());
    }

    [Fact]
    public void ServingApp_SignIn_IsConfiguredOnlyWithAnAppRegistration()
    {
        Assert.Equal("[not(empty(parameters('signInClientId')))]", SignIn.Element.StringAt("condition"));
        Assert.Equal("[parameters('consoleSignInClientId')]", template.Module("serving").ParameterValue("signInClientId"));
        Assert.Equal("", template.RootParameter("consoleSignInClientId").StringAt("defaultValue"));
    }

    [Fact]
    public void PreprocessingApp_HasNoSignIn()
    {
        // The module file declares the (conditional) resource for both apps; only the serving app passes a client ID.
        Assert.False(template.Module("functions").Properties.GetProperty("parameters").TryGetProperty("signInClientId", out _));
        Assert.Equal("", template.SingleOf("Microsoft.Web/sites/config", "functions").Template.At("parameters", "signInClientId").StringAt("defaultValue"));
    }
}
