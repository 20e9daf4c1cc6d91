/* placeholder until the collector lands */
int main(void);
int
main(void)
{
    return 0;
}
